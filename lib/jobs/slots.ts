/**
 * Chunk slots: how many chunks one process works on at once
 * (DROPFLOW_CHUNK_CONCURRENCY). A chunk holds its byte range, its validated rows and
 * its SQL parameters until it commits (about 15 MB for 5,000 purchase rows). The
 * queue's flow control bounds deliveries per job, not per process, so without a
 * bound here a worker's memory would follow whatever the queue happens to route to
 * it (several jobs at once, or Vercel's fluid compute handing one instance many
 * invocations). Deliveries past the bound wait their turn, first come first served.
 */

/** A delivery waited longer for a slot than its time budget allows; the queue retries it later. */
export class ChunkSlotsBusy extends Error {
  constructor(waitedMs: number, size: number) {
    super(`no chunk slot came free within ${waitedMs} ms (${size} chunks at once per process)`);
    this.name = "ChunkSlotsBusy";
  }
}

export class ChunkSlots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk slots: size must be a whole number >= 1, got ${size}`);
  }

  /** Chunks being worked on now. */
  get inUse(): number {
    return this.busy;
  }

  /** Deliveries waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with the function that gives the slot back (call it exactly once), or
   * rejects with ChunkSlotsBusy when no slot comes free within `maxWaitMs`.
   */
  async acquire(maxWaitMs: number): Promise<() => void> {
    if (this.busy < this.size) {
      this.busy += 1;
      return this.releaser();
    }
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new ChunkSlotsBusy(Date.now() - started, this.size));
      }, Math.max(0, maxWaitMs));
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so `busy` never dips and a
      // newcomer cannot jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.busy -= 1;
    };
  }
}
