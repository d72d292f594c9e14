/**
 * Whether a run can prove it saw everything. It cannot when a page or a range failed,
 * the page cap was hit, a count is missing, the upstream's count moved between the
 * start and the end (items came or went while it read), or the unique items it saw
 * differ from the count. Then the run ends `completed_with_gaps`, says why, and
 * retires nothing.
 */
import type { ChunkReport } from "../jobs/outcomes.js";
import type { SyncPayload } from "./params.js";
import type { SyncRunRow } from "./runs.js";

export function runVerdict(input: {
  run: Pick<SyncRunRow, "expectedAtStart">;
  outcomes: ReadonlyArray<ChunkReport<SyncPayload>>;
  expectedAtEnd: number | null;
  endCountError: string | null;
  seen: number;
  maxPages: number;
}): string | null {
  const sum = (name: string) => input.outcomes.reduce((total, outcome) => total + (outcome.counters[name] ?? 0), 0);
  const reasons: string[] = [];
  const failedRanges = input.outcomes.filter((outcome) => outcome.status === "failed").length;
  if (failedRanges > 0) reasons.push(`${failedRanges} page range${failedRanges === 1 ? "" : "s"} failed`);
  const pagesFailed = sum("pages_failed");
  if (pagesFailed > 0) reasons.push(`${pagesFailed} page${pagesFailed === 1 ? "" : "s"} could not be read`);
  if (sum("tail_unread") > 0) reasons.push("a range stopped before its end after pages failed");
  if (sum("cap_hit") > 0) reasons.push(`the page cap (${input.maxPages} pages) was hit`);
  const { expectedAtStart } = input.run;
  const { expectedAtEnd, seen } = input;
  if (expectedAtStart === null) reasons.push("no count at the start");
  if (expectedAtEnd === null) reasons.push(`no count at the end${input.endCountError ? ` (${input.endCountError})` : ""}`);
  if (expectedAtStart !== null && expectedAtEnd !== null && expectedAtStart !== expectedAtEnd) {
    reasons.push(`the upstream's count moved during the run (${expectedAtStart} at the start, ${expectedAtEnd} at the end)`);
  }
  const expected = expectedAtEnd ?? expectedAtStart;
  if (expected !== null && seen !== expected) reasons.push(`saw ${seen} unique items, the upstream counts ${expected}`);
  return reasons.length === 0 ? null : reasons.join("; ");
}
