import { randomBytes } from "node:crypto";
import { z } from "zod";

/** The `[id]` path segment of every route about one job (an import, a reconcile or sync run, a job). */
export const JobIdParams = z.object({ id: z.string().uuid() });

/**
 * UUID version 7: time-ordered, so ids sort by creation like the keyset pagination
 * of GET /api/jobs does, and index inserts stay at the right edge.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
