/**
 * The command line (docs/cli.md): commander's definition of every command and flag,
 * the settings each command runs with (lib/config.ts, loadCliSettings), and the exit
 * code: what the command answered, 64 for a command line that is wrong, 1 with one
 * line on stderr for any other failure.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { z } from "zod";
import { type CliFlags, ConfigError, loadCliSettings } from "../config.js";
import { SYNC_MODES, SYNC_SOURCES, type SyncSource } from "../db/schema.js";
import { refineDayRange, ReconcileRequest, StoreAndDayFilters } from "../reconcile/params.js";
import type { MarginGroup } from "../reports/margin.js";
import { SyncRequest } from "../sync/params.js";
import { VERSION } from "../version.js";
import { DropflowApi } from "./api-client.js";
import { errorsCommand } from "./commands/errors.js";
import { FILE_TYPES, type FileType, importCommand } from "./commands/import.js";
import { reconcileCommand } from "./commands/reconcile.js";
import { marginCommand } from "./commands/report.js";
import { runsCommand } from "./commands/runs.js";
import { statusCommand } from "./commands/status.js";
import { syncCommand } from "./commands/sync.js";
import type { CommandContext } from "./context.js";
import { CliError, EXIT, type ExitCode } from "./exit-codes.js";
import { type CliStreams, Output } from "./output.js";

/** Where the API is when neither --url nor DROPFLOW_URL says: `npm run dev`'s address. */
export const DEFAULT_URL = "http://localhost:3000";
/** The margin report's groups (lib/reports/margin.ts MARGIN_GROUPS; not imported: it loads the database layer). */
const MARGIN_GROUPS = ["month", "store", "sku"] as const;
// ...but checked against it by tsc (a type import).
const _sameGroups: [(typeof MARGIN_GROUPS)[number]] extends [MarginGroup]
  ? [MarginGroup] extends [(typeof MARGIN_GROUPS)[number]]
    ? true
    : false
  : false = true;

const MarginQuery = StoreAndDayFilters.superRefine(refineDayRange);
const JobId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface GlobalFlags {
  url?: string;
  token?: string;
  blobApiUrl?: string;
  json?: boolean;
}

const EXIT_CODES_HELP = `
Settings: --url or DROPFLOW_URL (default ${DEFAULT_URL}), --token or DROPFLOW_TOKEN.

Exit codes: 0 done; 1 failed (a job failed or was cancelled, an HTTP or network error,
a refused token, a missing file); 2 done with row errors (or a sync with gaps; 0 with
--allow-errors); 64 usage; 130 stopped following with Ctrl-C (the job goes on).
Every command: docs/cli.md.`;

export async function runCli(argv: readonly string[], streams: CliStreams): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.done;
  // Known before commander has parsed anything, so a usage error can answer JSON too.
  let out = new Output(streams, argv.includes("--json"));

  /** Runs a command's handler with the context its flags and settings make. */
  const run =
    <A extends unknown[]>(handler: (ctx: CommandContext, ...args: A) => Promise<ExitCode>) =>
    async (...args: A) => {
      const command = args.at(-1) as Command;
      const flags = command.optsWithGlobals<GlobalFlags>();
      out = new Output(streams, flags.json === true);
      exitCode = await handler(contextOf(out, flags), ...args);
    };

  const program = new Command("dropflow")
    .description("The dropflow command line: imports, reconcile, margin report and catalogue sync, over the HTTP API.")
    .version(VERSION, "-V, --version")
    .option("--url <url>", `the dropflow API (env DROPFLOW_URL; default ${DEFAULT_URL})`)
    .option("--token <token>", "the API token (env DROPFLOW_TOKEN)")
    .option("--blob-api-url <url>", "send uploads' bytes here, not where the deployment says (env VERCEL_BLOB_API_URL)")
    .option("--json", "print one machine-readable JSON document on stdout, nothing else")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => streams.stdout.write(text), writeErr: (text) => streams.stderr.write(text) })
    .showHelpAfterError("(dropflow --help for usage)")
    .exitOverride()
    .addHelpText("after", EXIT_CODES_HELP);

  program
    .command("import")
    .description("upload files and import them, in the order given; follows the import and prints its counts")
    .argument("<files...>", "CSV files or .xlsx workbooks (any size: large ones are uploaded in parts)")
    .addOption(new Option("--file-type <type>", "what the files are (the API's file_type)").choices(FILE_TYPES))
    .addOption(new Option("--kind <type>", "the same as --file-type").choices(FILE_TYPES))
    .option("--store <name>", "the store (settlement reports of a seller not yet linked to one)")
    .option("--sheet <name>", "workbooks: the sheet to import (default: the one whose header fits)")
    .option("--reconcile", "reconcile what the import landed when it ends, and follow that run", false)
    .option("--allow-errors", "exit 0 when rows were rejected", false)
    .action(
      run(async (ctx, files: string[], options: { fileType?: FileType; kind?: FileType; store?: string; sheet?: string; reconcile: boolean; allowErrors: boolean }) => {
        const fileType = options.fileType ?? options.kind;
        if (fileType === undefined) throw new CliError("usage", "import needs --file-type (or --kind) purchases or settlements");
        if (options.fileType && options.kind && options.fileType !== options.kind) {
          throw new CliError("usage", "--kind is another name for --file-type; the two must not differ");
        }
        return importCommand(ctx, {
          files,
          fileType,
          store: options.store,
          sheet: options.sheet,
          reconcile: options.reconcile,
          allowErrors: options.allowErrors,
        });
      }),
    );

  program
    .command("status")
    .description("a job's status: an import, a reconcile run, a sync run (exit code as the job's)")
    .argument("<job>", "the job's id")
    .action(run(async (ctx, job: string) => statusCommand(ctx, jobId(job))));

  program
    .command("errors")
    .description("an import's row errors: one page, or all of them as CSV")
    .argument("<job>", "the import's id")
    .option("--csv", "every row error as CSV on stdout (the API's download)", false)
    .option("--code <code>", "only this error code")
    .option("--file <id>", "only this file of the import (its id, as status shows it)")
    .option("--limit <n>", "errors on the page (1-1000)", integer(1, 1000), 100)
    .action(
      run(async (ctx, job: string, options: { csv: boolean; code?: string; file?: string; limit: number }) => {
        if (options.csv && ctx.out.json) throw new CliError("usage", "--csv writes CSV; it does not go with --json");
        if (options.file !== undefined && !JobId.test(options.file)) throw new CliError("usage", "--file takes a file id (a UUID)");
        return errorsCommand(ctx, { jobId: jobId(job), ...options });
      }),
    );

  program
    .command("reconcile")
    .description("reconcile purchases against settlements; follows the run and prints its outcomes")
    .option("--store <name>", "one store (default: every store)")
    .option("--from <date>", "orders from this day, YYYY-MM-DD (Asia/Jakarta)")
    .option("--to <date>", "orders up to this day, inclusive")
    .action(
      run(async (ctx, options: { store?: string; from?: string; to?: string }) =>
        reconcileCommand(ctx, validated(ReconcileRequest, { store: options.store, from: options.from, to: options.to })),
      ),
    );

  program
    .command("report")
    .description("reports")
    .command("margin")
    .description("the margin report")
    .addOption(new Option("--group <by>", "rows by").choices(MARGIN_GROUPS).default("month"))
    .option("--store <name>", "one store (default: every store)")
    .option("--from <date>", "orders from this day, YYYY-MM-DD (Asia/Jakarta)")
    .option("--to <date>", "orders up to this day, inclusive")
    .option("--csv", "the report as CSV on stdout (the API's download, with a TOTAL row)", false)
    .action(
      run(async (ctx, options: { group: string; store?: string; from?: string; to?: string; csv: boolean }) => {
        if (options.csv && ctx.out.json) throw new CliError("usage", "--csv writes CSV; it does not go with --json");
        const filters = validated(MarginQuery, { store: options.store, from: options.from, to: options.to });
        return marginCommand(ctx, { group: options.group, ...filters, csv: options.csv });
      }),
    );

  program
    .command("sync")
    .description("sync the catalogue from a source; follows the run and prints its record")
    .addArgument(new Argument("<source>", "where from").choices(SYNC_SOURCES))
    .addOption(new Option("--mode <mode>", "full, or incremental (SAP only; its default)").choices(SYNC_MODES))
    .option("--account <name>", "the eMAG account, when several are configured")
    .option("--allow-errors", "exit 0 when the run ends with gaps", false)
    .action(
      run(async (ctx, source: SyncSource, options: { mode?: string; account?: string; allowErrors: boolean }) =>
        syncCommand(ctx, { source, request: validated(SyncRequest, { mode: options.mode, account: options.account }), allowErrors: options.allowErrors }),
      ),
    );

  program
    .command("runs")
    .description("the latest imports, reconcile runs and sync runs, newest first")
    .option("--limit <n>", "how many (1-100)", integer(1, 100), 20)
    .action(run(async (ctx, options: { limit: number }) => runsCommand(ctx, options.limit)));

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    // Commander has already written its message (and the hint) to stderr.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.done : EXIT.usage;
    if (error instanceof CliError) {
      out.error(error.message);
      out.data({ error: { code: error.code, message: error.message, exit_code: error.exitCode, ...error.details } });
      return error.exitCode;
    }
    throw error;
  }
}

function contextOf(out: Output, flags: GlobalFlags): CommandContext {
  let settings;
  try {
    settings = loadCliSettings(cliFlags(flags));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new CliError("usage", error.issues.map((issue) => `${issue.variable} ${issue.problem}`).join("; "));
  }
  if (settings.token === null) throw new CliError("usage", "no API token: give --token or set DROPFLOW_TOKEN");
  return { api: new DropflowApi({ baseUrl: settings.url ?? DEFAULT_URL, token: settings.token }), out, blobApiUrl: settings.blobApiUrl };
}

function cliFlags(flags: GlobalFlags): CliFlags {
  return { url: flags.url, token: flags.token, blobApiUrl: flags.blobApiUrl };
}

function jobId(text: string): string {
  if (!JobId.test(text)) throw new CliError("usage", `${JSON.stringify(text)} is not a job id (a UUID, as the command that started it printed)`);
  return text.toLowerCase();
}

/** Commander's parser of a whole number from `min` to `max`. */
function integer(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    return value;
  };
}

/** Flags checked with the API's own request schema; a problem is a usage error naming the flag. */
function validated<S extends z.ZodType>(schema: S, input: Record<string, unknown>): z.output<S> {
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const parsed = schema.safeParse(defined);
  if (parsed.success) return parsed.data;
  throw new CliError("usage", parsed.error.issues.map((issue) => `--${issue.path.join(".")} ${issue.message}`).join("; "));
}
