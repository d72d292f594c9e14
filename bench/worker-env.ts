/** `--worker-env NAME=VALUE` (repeatable), shared by the benchmarks: extra environment for the workers. */
export function parseWorkerEnv(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`--worker-env takes NAME=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
