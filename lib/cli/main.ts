/**
 * The CLI's entry (bin/dropflow.mjs imports it once tsx is registered): runs the
 * command line and ends the process with its exit code. Everything else is in lib/cli.
 */
import { runCli } from "./program.js";

// A reader that stops early (`dropflow errors <job> --csv | head`) is not a failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} catch (error) {
  // A defect, not a condition the CLI knows: still one line, never a stack trace.
  process.stderr.write(`dropflow: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
