import { describe, expect, it } from "vitest";
import { ChunkSlots, ChunkSlotsBusy } from "../../lib/jobs/slots.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("chunk slots (DROPFLOW_CHUNK_CONCURRENCY)", () => {
  it("never lets more than its size run at once, and serves waiters first come first served", async () => {
    const slots = new ChunkSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = async (id: number) => {
      const release = await slots.acquire(10_000);
      order.push(id);
      running += 1;
      most = Math.max(most, running);
      await tick();
      running -= 1;
      release();
    };
    await Promise.all(Array.from({ length: 9 }, (_, id) => work(id)));
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(slots.inUse).toBe(0);
    expect(slots.queued).toBe(0);
  });

  it("gives up after the wait allowed, without losing or leaking a slot", async () => {
    const slots = new ChunkSlots(1);
    const held = await slots.acquire(0);
    await expect(slots.acquire(20)).rejects.toBeInstanceOf(ChunkSlotsBusy);
    expect(slots.queued).toBe(0);
    held();
    held(); // a second release is ignored: the slot is not given back twice
    expect(slots.inUse).toBe(0);
    const again = await slots.acquire(0);
    expect(slots.inUse).toBe(1);
    again();
  });

  it("refuses a size below one", () => {
    expect(() => new ChunkSlots(0)).toThrow(RangeError);
  });
});
