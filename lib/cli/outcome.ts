/** A job's final status as the CLI's exit code (docs/cli.md, "Exit codes"). */
import { EXIT, type ExitCode } from "./exit-codes.js";
import { isActive, type JobStatus } from "./responses.js";

/**
 * completed (or still going): 0; completed with row errors or with gaps: 2, or 0 when
 * the caller allows errors; failed or cancelled: 1.
 */
export function exitCodeOf(status: JobStatus, options: { allowErrors?: boolean } = {}): ExitCode {
  if (status === "completed" || isActive(status)) return EXIT.done;
  if (status === "completed_with_errors" || status === "completed_with_gaps") return options.allowErrors ? EXIT.done : EXIT.doneWithErrors;
  return EXIT.failed;
}

/** The exit code of several jobs: any failure wins, then any with errors. */
export function worstOf(codes: readonly ExitCode[]): ExitCode {
  if (codes.includes(EXIT.failed)) return EXIT.failed;
  if (codes.includes(EXIT.doneWithErrors)) return EXIT.doneWithErrors;
  return EXIT.done;
}
