/**
 * Reading a simulator's request log: how many requests fell in the busiest window,
 * which is what an upstream's rate limit counts (tests and the sync benchmark).
 */

/** The most requests in any window of `windowMs`, from their arrival times. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[last] as number) - (sorted[first] as number) >= windowMs) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}
