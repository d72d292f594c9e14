import type { JobKind } from "./types.js";

const kinds = new Map<string, JobKind>();

/** Registers a job kind; the capability that owns it calls this when its module loads. */
export function registerJobKind(kind: JobKind): void {
  kinds.set(kind.kind, kind);
}

export function jobKind(kind: string): JobKind | undefined {
  return kinds.get(kind);
}

