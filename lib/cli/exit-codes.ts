/**
 * The CLI's exit codes (docs/cli.md, "Exit codes") and the one error type its modules
 * throw: a CliError carries a code, the one line the user sees, and the exit code.
 */

export const EXIT = {
  /** The command did what it was asked; a job it followed completed. */
  done: 0,
  /** A job failed or was cancelled, an HTTP or network error, a refused token, a missing file. */
  failed: 1,
  /** A job completed with row errors (an import) or with gaps (a sync); 0 with --allow-errors. */
  doneWithErrors: 2,
  /** The command line was wrong (BSD sysexits' EX_USAGE). */
  usage: 64,
  /** Ctrl-C while following a job: the job goes on on the server. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type CliErrorCode =
  /** A flag, argument or setting is missing or invalid. */
  | "usage"
  /** A file to upload does not exist or is not a file. */
  | "missing_file"
  /** A file to upload is larger than the deployment takes. */
  | "file_too_large"
  /** The API answered 401: the token is wrong (or missing on the server's side). */
  | "unauthorized"
  /** The API could not be reached. */
  | "network"
  /** The API answered another error (its problem's code is in `details`). */
  | "http_error"
  /** The API answered something that is not what dropflow answers. */
  | "bad_response"
  /** Vercel Blob refused or failed a file's upload. */
  | "upload_failed"
  /** A run the API starts by itself (reconcile after an import) did not appear. */
  | "not_started"
  /** The user stopped a command that was following a job. */
  | "interrupted";

export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(
    readonly code: CliErrorCode,
    message: string,
    /** What a script may act on (--json prints it): the API's problem code, the job in the way. */
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
    this.name = "CliError";
    this.exitCode = code === "usage" ? EXIT.usage : code === "interrupted" ? EXIT.interrupted : EXIT.failed;
  }
}
