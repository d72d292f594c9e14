import { describe, expect, it } from "vitest";
import { handOn, startBudget } from "../../lib/jobs/index.js";
import type { PublishOptions, TaskMessage } from "../../lib/queue/types.js";

describe("time budget", () => {
  it("takes Vercel's deadline when there is one, minus the margin", () => {
    const deadline = new Date(Date.now() + 60_000);
    const budget = startBudget({ maxDurationMs: 300_000, marginMs: 5_000, platformDeadline: () => deadline });
    expect(budget.deadlineMs).toBe(deadline.getTime() - 5_000);
    expect(budget.expired()).toBe(false);
    budget.dispose();
  });

  it("falls back to start + max duration, and aborts its signal when the budget runs out", async () => {
    const budget = startBudget({ maxDurationMs: 120, marginMs: 20, platformDeadline: () => undefined });
    expect(budget.remainingMs()).toBeLessThanOrEqual(100);
    const io = budget.signalFor(10_000);
    await new Promise((resolve) => budget.signal.addEventListener("abort", resolve));
    expect(budget.expired()).toBe(true);
    expect(io.aborted).toBe(true);
    expect(budget.remainingMs()).toBe(0);
    budget.dispose();
  });

  it("gives one I/O call the shorter of its own timeout and the budget", async () => {
    const budget = startBudget({ maxDurationMs: 60_000, marginMs: 0, platformDeadline: () => undefined });
    const io = budget.signalFor(30);
    await new Promise((resolve) => io.addEventListener("abort", resolve));
    expect(budget.signal.aborted).toBe(false);
    budget.dispose();
  });
});

describe("handOn", () => {
  it("publishes the rest of the work with its cursor, deduplicated per checkpoint", async () => {
    const published: Array<{ task: TaskMessage; options?: PublishOptions }> = [];
    const queue = {
      publish: async (task: TaskMessage, options?: PublishOptions) => {
        published.push({ task, options });
        return { messageId: `m${published.length}`, deduplicated: false };
      },
    };
    const task: TaskMessage = { type: "sync-page", payload: { job_id: "j1" }, correlation_id: "c1" };
    await handOn(queue, task, { key: "sync:j1", cursor: "page-40" });
    await handOn(queue, task, { key: "sync:j1", cursor: "page-80" }, { delaySeconds: 1 });
    expect(published.map((p) => p.task.payload)).toEqual([
      { job_id: "j1", cursor: "page-40" },
      { job_id: "j1", cursor: "page-80" },
    ]);
    expect(published.map((p) => p.options?.deduplicationId)).toEqual(["sync:j1:page-40", "sync:j1:page-80"]);
    expect(published[1]?.options).toMatchObject({ delaySeconds: 1, retries: 3, failureCallback: true });
  });
});
