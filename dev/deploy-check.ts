/**
 * Deploy fidelity: traces every api/ function the way Vercel's Node builder does and
 * checks that what would ship is complete, and that vercel.json points at real files.
 *
 * How @vercel/node 24 traces a TypeScript entry (node_modules/@vercel/node/dist/index.js,
 * `compile2`): `nodeFileTrace([entry], { base, processCwd, ts: true, mixedModules: true,
 * moduleSyncCatchall: true, conditions: undefined, ignore: excludeFiles, resolve, readFile })`
 * with its *own* nested @vercel/nft; `readFile` compiles each .ts file with the project's
 * TypeScript before nft parses it (acorn cannot read TS), `resolve` is nft's
 * resolve-dependency, and nft's Job retries a failed `./foo.js` as `./foo.ts`. Unresolved
 * imports only become debug-level warnings there, so a deploy silently ships without them:
 * this check turns them into failures. `includeFiles` is globbed and shipped on top.
 *
 * Usage: `tsx dev/deploy-check.ts [root]` prints a report, exits 1 on problems.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { NodeFileTraceOptions, NodeFileTraceResult } from "@vercel/nft";
import ts from "typescript";
import { type ApiRoute, discoverRoutes, matchRoute } from "./router.js";

export type ProblemCode =
  /** A project file imports something that does not resolve: the deploy ships without it. */
  | "unresolved-import"
  /** A project file nft could not parse, so nothing it imports was traced. */
  | "parse-error"
  /** `import(expr)` with a non-literal specifier in project code: untraceable. */
  | "dynamic-import"
  /** nft itself failed on the entry. */
  | "trace-error"
  /** `new URL("<relative>", import.meta.url)` points at nothing. */
  | "missing-asset"
  /** ...points at a file the function's trace leaves out. */
  | "asset-not-traced"
  /** ...with a specifier that cannot be checked statically. */
  | "unchecked-asset"
  /** Over Vercel's 250 MB uncompressed function limit. */
  | "function-too-large"
  /** dev/router.ts and Vercel disagree about which api/ files are functions. */
  | "route-mismatch"
  | "vercel-json"
  | "functions-glob"
  | "cron-path";

export interface Problem {
  code: ProblemCode;
  /** Project-relative file (with `:line` when known) the problem is about. */
  file: string;
  message: string;
  /** Entry files (project-relative) of the functions affected. */
  functions?: string[];
}

export interface AssetReference {
  /** Project-relative file holding the `new URL(...)`, with `:line`. */
  source: string;
  specifier: string;
  /** Project-relative target; a directory stands for every file under it. */
  target: string;
  /** The files the reference needs shipped. */
  files: string[];
}

export interface FunctionTrace {
  /** Project-relative entry file, e.g. `api/health.ts`. */
  entry: string;
  route: string;
  /** Everything nft traced, project-relative (as in the builder's `fileList`). */
  fileList: string[];
  /** Files added by the matching `functions` entry's `includeFiles`. */
  included: string[];
  assets: AssetReference[];
  /** Uncompressed size of what ships (sources before compilation). */
  bytes: number;
  ms: number;
}

export interface TraceReport {
  /** Which nft traced: the copy @vercel/node uses, else the project's. */
  tracer: { version: string; from: string };
  functions: FunctionTrace[];
  problems: Problem[];
  /** Non-fatal observations (e.g. optional dependencies of packages that are absent). */
  notes: string[];
  ms: number;
}

export interface FunctionSettings {
  entry: string;
  route: string;
  /** The `functions` key that applies (Vercel takes the first matching key). */
  glob: string | null;
  maxDuration: number | null;
}

export interface CronReport {
  path: string;
  schedule: string;
  entry: string | null;
}

export interface VercelJsonReport {
  functions: FunctionSettings[];
  crons: CronReport[];
  problems: Problem[];
}

export interface DeployReport {
  trace: TraceReport;
  vercel: VercelJsonReport;
  problems: Problem[];
}

/** Vercel's limit for a function's uncompressed size. */
export const MAX_FUNCTION_BYTES = 250 * 1024 * 1024;

const TS_SOURCE = /\.(?:[mc]?ts|tsx)$/;
const SOURCE = /\.(?:[mc]?[tj]s|[tj]sx)$/;

// ---------------------------------------------------------------------------------------
// vercel.json

interface FunctionConfig {
  maxDuration?: unknown;
  memory?: unknown;
  includeFiles?: unknown;
  excludeFiles?: unknown;
  runtime?: unknown;
}

interface VercelJson {
  functions: Record<string, FunctionConfig>;
  crons: unknown[];
}

function readVercelJson(root: string, problems: Problem[]): VercelJson {
  const file = path.join(root, "vercel.json");
  const empty: VercelJson = { functions: {}, crons: [] };
  if (!existsSync(file)) return empty;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    problems.push({ code: "vercel-json", file: "vercel.json", message: `is not valid JSON: ${String(error)}` });
    return empty;
  }
  if (!isObject(parsed)) {
    problems.push({ code: "vercel-json", file: "vercel.json", message: "must be a JSON object" });
    return empty;
  }
  const functions = parsed.functions ?? {};
  const crons = parsed.crons ?? [];
  if (!isObject(functions))
    problems.push({ code: "vercel-json", file: "vercel.json", message: "`functions` must be an object" });
  if (!Array.isArray(crons))
    problems.push({ code: "vercel-json", file: "vercel.json", message: "`crons` must be an array" });
  return {
    functions: isObject(functions) ? (functions as Record<string, FunctionConfig>) : {},
    crons: Array.isArray(crons) ? crons : [],
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `functions` key Vercel applies to an entry: the first one that equals or matches it. */
function functionKeyFor(entry: string, functions: Record<string, FunctionConfig>): string | null {
  return Object.keys(functions).find((key) => key === entry || globToRegExp(key).test(entry)) ?? null;
}

/**
 * minimatch-style glob (what Vercel uses for `functions` keys): `*`, `?`, `**`, `[...]`,
 * `{a,b}` and the extglobs `@(a|b)`, `+(...)`, `?(...)`, `*(...)`, `!(...)`.
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`);
}

function globSource(glob: string): string {
  let re = "";
  const groups: string[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    const next = glob[i + 1];
    if (c === "!" && next === "(") {
      // Like minimatch: anything at this point except the alternatives followed by the rest.
      const close = matchingParen(glob, i + 1);
      if (close !== -1) {
        const alternatives = splitTopLevel(glob.slice(i + 2, close))
          .map(globSource)
          .join("|");
        const rest = globSource(glob.slice(close + 1));
        return `${re}(?:(?!(?:${alternatives})${rest}$)[^/]*?)${rest}`;
      }
    }
    if ("@+?*".includes(c) && next === "(") {
      groups.push(c === "@" ? ")" : `)${c}`);
      re += "(?:";
      i++;
      continue;
    }
    if (c === "*") {
      const segmentStart = i === 0 || glob[i - 1] === "/";
      if (next === "*" && segmentStart && (glob[i + 2] === "/" || i + 2 === glob.length)) {
        re += glob[i + 2] === "/" ? "(?:[^/]*/)*" : ".*";
        i += 2;
        continue;
      }
      re += "[^/]*";
      continue;
    }
    if (c === "?") {
      re += "[^/]";
      continue;
    }
    if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end !== -1) {
        const body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        re += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
        i = end;
        continue;
      }
    }
    if (c === "{") {
      groups.push(")");
      re += "(?:";
      continue;
    }
    if ((c === "," || c === "|") && groups.length > 0) {
      re += "|";
      continue;
    }
    if ((c === "}" || c === ")") && groups.length > 0) {
      re += groups.pop() as string;
      continue;
    }
    re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return re;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i;
  }
  return -1;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "{") depth++;
    else if (c === ")" || c === "}") depth--;
    else if (c === "|" && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * The files under api/ that Vercel builds as Node functions (fs-detectors' detect-builders:
 * `api/**\/*.+(js|mjs|ts|tsx)`, minus paths with a `/.` or `/_` and `.d.ts` files).
 */
export function vercelApiEntries(root: string): string[] {
  const apiDir = path.join(root, "api");
  if (!existsSync(apiDir)) return [];
  const pattern = globToRegExp("api/**/*.+(js|mjs|ts|tsx)");
  return walk(root, apiDir)
    .filter((rel) => !rel.includes("/.") && !rel.includes("/_") && !rel.endsWith(".d.ts") && pattern.test(rel))
    .sort();
}

function walk(root: string, dir: string, skip: (name: string) => boolean = () => false): string[] {
  const files: string[] = [];
  const visit = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (skip(entry.name)) continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() || entry.isSymbolicLink()) files.push(toRel(root, full));
    }
  };
  visit(dir);
  return files;
}

function toRel(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join("/");
}

function routesOf(root: string): ApiRoute[] {
  const apiDir = path.join(root, "api");
  return existsSync(apiDir) ? discoverRoutes(apiDir) : [];
}

/** Checks `functions` and `crons` in vercel.json against the api/ files that exist. */
export function checkVercelJson(root: string): VercelJsonReport {
  const problems: Problem[] = [];
  const config = readVercelJson(root, problems);
  const routes = routesOf(root);
  const vercelEntries = vercelApiEntries(root);
  const devEntries = new Set(routes.map((route) => toRel(root, route.file)));

  for (const entry of vercelEntries) {
    if (!devEntries.has(entry)) {
      problems.push({
        code: "route-mismatch",
        file: entry,
        message: "is deployed as a function by Vercel but dev/router.ts does not serve it",
      });
    }
  }
  for (const entry of devEntries) {
    if (!vercelEntries.includes(entry)) {
      problems.push({
        code: "route-mismatch",
        file: entry,
        message: "is served by dev/router.ts but Vercel does not deploy it as a function",
      });
    }
  }

  // functions: validated as detect-builders does; a key must be the one applied to some entry.
  const used = new Map<string, string[]>();
  for (const entry of vercelEntries) {
    const key = functionKeyFor(entry, config.functions);
    if (key !== null) used.set(key, [...(used.get(key) ?? []), entry]);
  }
  for (const [key, fn] of Object.entries(config.functions)) {
    const where = `vercel.json functions["${key}"]`;
    if (key.startsWith("/"))
      problems.push({ code: "functions-glob", file: "vercel.json", message: `${where}: must not start with "/"` });
    if (!isObject(fn) || Object.keys(fn).length === 0) {
      problems.push({ code: "functions-glob", file: "vercel.json", message: `${where}: must be a non-empty object` });
      continue;
    }
    const { maxDuration, includeFiles, excludeFiles } = fn;
    if (
      maxDuration !== undefined &&
      !(Number.isInteger(maxDuration) && (maxDuration as number) >= 1 && (maxDuration as number) <= 900)
    ) {
      problems.push({
        code: "functions-glob",
        file: "vercel.json",
        message: `${where}: maxDuration must be an integer from 1 to 900, got ${JSON.stringify(maxDuration)}`,
      });
    }
    for (const [name, value] of [
      ["includeFiles", includeFiles],
      ["excludeFiles", excludeFiles],
    ] as const) {
      if (value !== undefined && typeof value !== "string") {
        problems.push({
          code: "functions-glob",
          file: "vercel.json",
          message: `${where}: ${name} must be a string glob`,
        });
      }
    }
    if (!used.has(key)) {
      const shadowedBy = vercelEntries.find((entry) => globToRegExp(key).test(entry) || key === entry);
      problems.push({
        code: "functions-glob",
        file: "vercel.json",
        message: shadowedBy
          ? `${where} is never applied: ${shadowedBy} takes the earlier key "${functionKeyFor(shadowedBy, config.functions)}" (Vercel rejects unused patterns)`
          : `${where} matches no file under api/ (Vercel fails the deploy: "doesn't match any Serverless Functions")`,
      });
    }
  }

  const functions: FunctionSettings[] = routes.map((route) => {
    const entry = toRel(root, route.file);
    const glob = functionKeyFor(entry, config.functions);
    const maxDuration = glob === null ? undefined : config.functions[glob]?.maxDuration;
    return { entry, route: route.path, glob, maxDuration: typeof maxDuration === "number" ? maxDuration : null };
  });

  const crons: CronReport[] = [];
  config.crons.forEach((cron, index) => {
    const where = `vercel.json crons[${index}]`;
    if (!isObject(cron) || typeof cron.path !== "string" || typeof cron.schedule !== "string") {
      problems.push({
        code: "cron-path",
        file: "vercel.json",
        message: `${where}: needs string "path" and "schedule"`,
      });
      return;
    }
    const { path: cronPath, schedule } = cron;
    const report: CronReport = { path: cronPath, schedule, entry: null };
    crons.push(report);
    if (schedule.trim().split(/\s+/).length !== 5) {
      problems.push({
        code: "cron-path",
        file: "vercel.json",
        message: `${where}: schedule "${schedule}" is not a 5-field cron expression`,
      });
    }
    if (!cronPath.startsWith("/")) {
      problems.push({
        code: "cron-path",
        file: "vercel.json",
        message: `${where}: path "${cronPath}" must start with "/"`,
      });
      return;
    }
    const match = matchRoute(routes, cronPath.split("?")[0] as string);
    if (!match) {
      problems.push({
        code: "cron-path",
        file: "vercel.json",
        message: `${where}: path "${cronPath}" matches no api/ function`,
      });
      return;
    }
    report.entry = toRel(root, match.route.file);
    if (!exportsName(match.route.file, "GET")) {
      problems.push({
        code: "cron-path",
        file: report.entry,
        message: `is the target of cron "${cronPath}" but exports no GET handler (Vercel cron sends GET)`,
      });
    }
  });

  return { functions, crons, problems };
}

/** Whether a module statically exports `name` (or a default export, which Vercel also calls). */
function exportsName(file: string, name: string): boolean {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  for (const statement of source.statements) {
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    const exported = modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
    const isDefault = modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) ?? false;
    if (ts.isExportAssignment(statement) || (exported && isDefault)) return true;
    if (exported && ts.isVariableStatement(statement)) {
      if (statement.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name))
        return true;
    }
    if (
      exported &&
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) &&
      statement.name?.text === name
    ) {
      return true;
    }
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      if (statement.exportClause.elements.some((e) => e.name.text === name || e.name.text === "default")) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Tracing

type NodeFileTrace = (files: string[], options: NodeFileTraceOptions) => Promise<NodeFileTraceResult>;
type ResolveDependency = NonNullable<NodeFileTraceOptions["resolve"]>;

interface Tracer {
  nodeFileTrace: NodeFileTrace;
  resolveDependency: ResolveDependency;
  version: string;
  from: string;
}

const localRequire = createRequire(import.meta.url);

/**
 * The nft that @vercel/node itself requires (it pins its own copy, nested under it), so the
 * trace matches the builder; the project's @vercel/nft when @vercel/node is not installed.
 * nodeFileTrace and resolve-dependency must come from the same copy: nft's `.js` -> `.ts`
 * retry checks `error instanceof NotFoundError` against its own class.
 */
function loadTracer(root: string, which: "builder" | "project"): Tracer {
  const here = fileURLToPath(import.meta.url);
  let anchor = here;
  if (which === "builder") {
    try {
      anchor = localRequire.resolve("@vercel/node", { paths: [root, path.dirname(here)] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  const load = createRequire(anchor);
  const nft = load("@vercel/nft") as { nodeFileTrace: NodeFileTrace };
  const resolveModule = load("@vercel/nft/out/resolve-dependency") as { default: ResolveDependency };
  const pkgFile = load.resolve("@vercel/nft/package.json");
  const version = (JSON.parse(readFileSync(pkgFile, "utf8")) as { version: string }).version;
  return {
    nodeFileTrace: nft.nodeFileTrace,
    resolveDependency: resolveModule.default,
    version,
    from: path.dirname(pkgFile),
  };
}

/** Compiler options as the builder's `register()` reads them: the tsconfig nearest the entry. */
function compilerOptionsFor(entry: string, cache: Map<string, ts.CompilerOptions>): ts.CompilerOptions {
  const configFile = ts.findConfigFile(path.dirname(entry), ts.sys.fileExists) ?? "";
  let options = cache.get(configFile);
  if (!options) {
    const raw = configFile ? ts.readConfigFile(configFile, ts.sys.readFile) : { config: {} };
    if (raw.error) throw new Error(`${configFile}: ${ts.flattenDiagnosticMessageText(raw.error.messageText, "\n")}`);
    const parsed = ts.parseJsonConfigFileContent(
      { ...raw.config, files: [], include: [] },
      ts.sys,
      configFile ? path.dirname(configFile) : path.dirname(entry),
    );
    // The builder's TS_NODE_COMPILER_OPTIONS: emit on, source maps beside the output.
    options = { ...parsed.options, noEmit: false, sourceMap: true, inlineSourceMap: false, declaration: false };
    cache.set(configFile, options);
  }
  return options;
}

const FAILED_RESOLVE = /^Failed to resolve dependency "([^"]+)":\n[\s\S]*? loaded from (.+)$/;
const FAILED_PARSE = /^Failed to parse (.+) as (?:module|script):\n([\s\S]*)$/;

export interface TraceOptions {
  /** Trace with the project's @vercel/nft instead of the one @vercel/node bundles. */
  tracer?: "builder" | "project";
}

/** Traces every api/ function like @vercel/node's build and checks imports and assets. */
export async function traceFunctions(root: string, options: TraceOptions = {}): Promise<TraceReport> {
  const started = performance.now();
  root = path.resolve(root);
  const problems = new ProblemSet();
  const notes = new Set<string>();
  const config = readVercelJson(root, []);
  const tracer = loadTracer(root, options.tracer ?? "builder");
  const compiled = new Map<string, Buffer | string | null>();
  const tsOptions = new Map<string, ts.CompilerOptions>();
  // nft's cache holds analysis results, which depend on `ignore`: one cache per excludeFiles.
  const caches = new Map<string, object>();
  const scans = new Map<string, SourceScan>();
  const functions: FunctionTrace[] = [];

  for (const route of routesOf(root)) {
    const t0 = performance.now();
    const entry = toRel(root, route.file);
    const key = functionKeyFor(entry, config.functions);
    const fn = key === null ? {} : (config.functions[key] ?? {});
    const excludeFiles = typeof fn.excludeFiles === "string" ? fn.excludeFiles : undefined;
    const includeFiles = typeof fn.includeFiles === "string" ? fn.includeFiles : undefined;
    const cacheKey = excludeFiles ?? "";
    let cache = caches.get(cacheKey);
    if (!cache) {
      cache = {};
      caches.set(cacheKey, cache);
    }

    let result: NodeFileTraceResult;
    try {
      result = await tracer.nodeFileTrace([route.file], {
        base: root,
        processCwd: root,
        ts: true,
        mixedModules: true,
        moduleSyncCatchall: true,
        cache,
        ...(excludeFiles === undefined ? {} : { ignore: excludeFiles }),
        resolve: (id, parent, job, cjsResolve) =>
          tracer.resolveDependency(id.replace(/\.wasm\?module$/i, ".wasm"), parent, job, cjsResolve),
        readFile: async (file) => {
          const cached = compiled.get(file);
          if (cached !== undefined) return cached;
          let source: Buffer | string | null;
          try {
            source = readFileSync(file);
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code !== "ENOENT" && code !== "EISDIR") throw error;
            source = null;
          }
          if (source !== null && TS_SOURCE.test(file) && !file.endsWith(".d.ts")) {
            source = ts.transpileModule(source.toString(), {
              fileName: file,
              compilerOptions: compilerOptionsFor(route.file, tsOptions),
            }).outputText;
          }
          compiled.set(file, source);
          return source;
        },
      });
    } catch (error) {
      problems.add({ code: "trace-error", file: entry, message: `nft failed: ${String(error)}` }, entry);
      continue;
    }

    for (const warning of result.warnings) classifyWarning(root, warning, entry, problems, notes);

    const fileList = [...result.fileList].map((file) => file.split(path.sep).join("/")).sort();
    const included = includeFiles === undefined ? [] : globFiles(root, includeFiles);
    const shipped = new Set([...fileList, ...included]);
    const assets: AssetReference[] = [];
    for (const file of fileList) {
      if (file.startsWith("node_modules/") || file.includes("/node_modules/") || !SOURCE.test(file)) continue;
      let scan = scans.get(file);
      if (!scan) {
        scan = scanSource(root, file);
        scans.set(file, scan);
      }
      for (const problem of scan.problems) problems.add(problem, entry);
      for (const reference of scan.assets) {
        assets.push(reference);
        if (reference.files.length === 0) {
          problems.add(
            {
              code: "missing-asset",
              file: reference.source,
              message: `new URL("${reference.specifier}", import.meta.url) points at ${reference.target}, which does not exist`,
            },
            entry,
          );
          continue;
        }
        for (const needed of reference.files) {
          if (shipped.has(needed)) continue;
          problems.add(
            {
              code: "asset-not-traced",
              file: reference.source,
              message: `new URL("${reference.specifier}", import.meta.url) needs ${needed}, which the trace leaves out`,
            },
            entry,
          );
        }
      }
    }

    let bytes = 0;
    for (const file of shipped) {
      try {
        bytes += lstatSync(path.join(root, file)).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    if (bytes > MAX_FUNCTION_BYTES) {
      problems.add(
        { code: "function-too-large", file: entry, message: `ships ${formatBytes(bytes)}, over Vercel's 250 MB limit` },
        entry,
      );
    }
    functions.push({ entry, route: route.path, fileList, included, assets, bytes, ms: performance.now() - t0 });
  }

  return {
    tracer: { version: tracer.version, from: toRel(root, tracer.from) },
    functions,
    problems: problems.list(),
    notes: [...notes].sort(),
    ms: performance.now() - started,
  };
}

/** Problems deduplicated across functions, each naming the functions it affects. */
class ProblemSet {
  private readonly byKey = new Map<string, Problem & { functions: string[] }>();

  add(problem: Problem, entry: string): void {
    const key = `${problem.code}\0${problem.file}\0${problem.message}`;
    const existing = this.byKey.get(key);
    if (existing) {
      if (!existing.functions.includes(entry)) existing.functions.push(entry);
    } else {
      this.byKey.set(key, { ...problem, functions: [entry] });
    }
  }

  list(): Problem[] {
    return [...this.byKey.values()];
  }
}

/**
 * nft's warnings: an unresolved import or unparsable file in project code is a problem.
 * Inside node_modules it is one only when the package lists the missing package under
 * `dependencies`; optional and peer dependencies that are absent are normal (guarded loads).
 */
function classifyWarning(root: string, warning: Error, entry: string, problems: ProblemSet, notes: Set<string>): void {
  const resolveFailure = FAILED_RESOLVE.exec(warning.message);
  if (resolveFailure) {
    const [, specifier = "", parent = ""] = resolveFailure;
    const from = toRel(root, parent.trim());
    if (!isInNodeModules(from)) {
      problems.add(
        { code: "unresolved-import", file: from, message: `imports "${specifier}", which does not resolve` },
        entry,
      );
      return;
    }
    const owner = owningPackage(root, parent.trim());
    const relative = specifier.startsWith(".") || specifier.startsWith("/");
    const wanted = relative ? null : packageName(specifier);
    if (owner && wanted && owner.dependencies.has(wanted)) {
      problems.add(
        {
          code: "unresolved-import",
          file: from,
          message: `imports "${specifier}", a dependency of ${owner.name} that is not installed`,
        },
        entry,
      );
      return;
    }
    notes.add(`${from}: optional import "${specifier}" does not resolve (not shipped)`);
    return;
  }
  const parseFailure = FAILED_PARSE.exec(warning.message);
  // nft parses as a script first and, when acorn's message does not say "sourceType:
  // module" (e.g. for `import.meta`), warns before retrying as a module. Only a failed
  // module parse means the file went unanalysed.
  if (parseFailure && / as script:\n/.test(warning.message)) return;
  if (parseFailure) {
    const [, file = "", reason = ""] = parseFailure;
    const from = toRel(root, file);
    if (isInNodeModules(from)) {
      notes.add(`${from}: nft could not parse it (${reason.split("\n")[0]})`);
      return;
    }
    problems.add(
      {
        code: "parse-error",
        file: from,
        message: `nft could not parse it, so its imports were not traced: ${reason.split("\n")[0]}`,
      },
      entry,
    );
    return;
  }
  notes.add(`nft: ${warning.message.split("\n")[0]}`);
}

function isInNodeModules(rel: string): boolean {
  return rel.startsWith("node_modules/") || rel.includes("/node_modules/") || rel.startsWith("../");
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

interface OwningPackage {
  name: string;
  dependencies: Set<string>;
}

function owningPackage(root: string, file: string): OwningPackage | null {
  let dir = path.dirname(file);
  while (dir.startsWith(root) && dir !== root) {
    const pkgFile = path.join(dir, "package.json");
    if (existsSync(pkgFile)) {
      const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { name?: string; dependencies?: Record<string, string> };
      // Nested package.json files without a name only set "type"; keep looking upwards.
      if (pkg.name) return { name: pkg.name, dependencies: new Set(Object.keys(pkg.dependencies ?? {})) };
    }
    dir = path.dirname(dir);
  }
  return null;
}

interface SourceScan {
  assets: AssetReference[];
  problems: Problem[];
}

/**
 * Finds `new URL("<relative>", import.meta.url)` (runtime assets) and `import(<expr>)`
 * with a computed specifier in one project source file.
 */
function scanSource(root: string, rel: string): SourceScan {
  const file = path.join(root, rel);
  const text = readFileSync(file, "utf8");
  const scan: SourceScan = { assets: [], problems: [] };
  if (!text.includes("import.meta.url") && !text.includes("import(")) return scan;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const at = (node: ts.Node) => `${rel}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "URL" &&
      node.arguments?.length === 2 &&
      isImportMetaUrl(node.arguments[1] as ts.Expression)
    ) {
      const specifier = node.arguments[0] as ts.Expression;
      if (!ts.isStringLiteralLike(specifier)) {
        scan.problems.push({
          code: "unchecked-asset",
          file: at(node),
          message: `new URL(${specifier.getText(source)}, import.meta.url) is computed, so neither nft nor this check can tell what it needs shipped`,
        });
      } else if (/^\.\.?(?:\/|$)/.test(specifier.text)) {
        const reference = resolveAsset(root, file, specifier.text);
        if (reference) scan.assets.push({ source: at(node), specifier: specifier.text, ...reference });
      }
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      if (specifier && !ts.isStringLiteralLike(specifier)) {
        scan.problems.push({
          code: "dynamic-import",
          file: at(node),
          message: `import(${specifier.getText(source)}) has a computed specifier, which nft cannot trace`,
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return scan;
}

function isImportMetaUrl(node: ts.Expression): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    node.name.text === "url" &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    node.expression.name.text === "meta"
  );
}

/** What a relative `new URL` needs: the file, or every file under a directory. */
function resolveAsset(
  root: string,
  file: string,
  specifier: string,
): Omit<AssetReference, "source" | "specifier"> | null {
  let target = fileURLToPath(new URL(specifier, pathToFileURL(file)));
  // The compiled module sits where its .ts source was, so "./x.js" may mean x.ts.
  if (!existsSync(target) && /\.[mc]?js$/.test(target)) {
    const tsTwin = target.replace(/js$/, "ts");
    if (existsSync(tsTwin)) target = tsTwin;
  }
  target = target.replace(/[\\/]+$/, "");
  const rel = toRel(root, target);
  if (!existsSync(target)) return { target: rel, files: [] };
  if (!statSync(target).isDirectory()) return { target: rel, files: [rel] };
  // A directory holding the module itself (".", "..") is a base path, not an asset.
  if (file.startsWith(target + path.sep)) return null;
  return { target: `${rel}/`, files: walk(root, target).sort() };
}

/** `includeFiles` as the builder globs it: relative to the project, node_modules only if named. */
function globFiles(root: string, pattern: string): string[] {
  const re = globToRegExp(pattern.replace(/^\.\//, ""));
  const skipNodeModules = !pattern.includes("node_modules");
  const files = walk(root, root, (name) => name === ".git" || (skipNodeModules && name === "node_modules"));
  return files.filter((file) => re.test(file)).sort();
}

function formatBytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------

/** Both checks over one project. */
export async function checkDeploy(root: string, options: TraceOptions = {}): Promise<DeployReport> {
  const vercel = checkVercelJson(root);
  const trace = await traceFunctions(root, options);
  return { trace, vercel, problems: [...vercel.problems, ...trace.problems] };
}

export function formatReport(report: DeployReport): string {
  const lines: string[] = [];
  const { trace, vercel } = report;
  lines.push(
    `Traced ${trace.functions.length} function(s) with @vercel/nft ${trace.tracer.version} (${trace.tracer.from}) in ${Math.round(trace.ms)} ms`,
  );
  for (const fn of trace.functions) {
    const settings = vercel.functions.find((s) => s.entry === fn.entry);
    const maxDuration = settings?.maxDuration ?? null;
    const duration = maxDuration === null ? "platform default" : `${maxDuration} s`;
    const packages = new Set(
      fn.fileList.filter((f) => f.startsWith("node_modules/")).map((f) => packageName(f.slice("node_modules/".length))),
    );
    lines.push(
      `  ${fn.route}  ${fn.entry}: ${fn.fileList.length} files${fn.included.length ? ` + ${fn.included.length} included` : ""}, ${formatBytes(fn.bytes)}, ${packages.size} packages, maxDuration ${duration}${settings?.glob ? ` (from "${settings.glob}")` : ""}, ${Math.round(fn.ms)} ms`,
    );
    for (const asset of fn.assets) {
      const shipped = asset.files.filter((f) => fn.fileList.includes(f) || fn.included.includes(f)).length;
      lines.push(`      asset ${asset.target} (${asset.source}): ${shipped}/${asset.files.length} file(s) shipped`);
    }
  }
  for (const cron of vercel.crons) lines.push(`  cron ${cron.schedule}  ${cron.path} -> ${cron.entry ?? "nothing"}`);
  if (trace.notes.length) {
    lines.push(`Notes (${trace.notes.length}):`);
    for (const note of trace.notes) lines.push(`  ${note}`);
  }
  if (report.problems.length === 0) {
    lines.push("No problems.");
  } else {
    lines.push(`${report.problems.length} problem(s):`);
    for (const problem of report.problems) {
      const affected = problem.functions?.length ? ` [${problem.functions.join(", ")}]` : "";
      lines.push(`  ${problem.code}: ${problem.file} ${problem.message}${affected}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
  const report = await checkDeploy(root);
  process.stdout.write(formatReport(report));
  return report.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `deploy-check: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
