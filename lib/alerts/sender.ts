/**
 * Alerts out: a short JSON message (Slack-compatible `text`) to ALERT_WEBHOOK_URL for
 * ERROR events and for jobs that end failed or with gaps, rate limited across every
 * process: a few messages per window through the sync state store's request slots,
 * the rest counted; the next message that goes out, or the watchdog's summary, says
 * how many were held back. A failure storm sends a handful of messages, then a
 * summary, never thousands.
 *
 * Delivery failures go to stderr, never through the logger: an ERROR about a failed
 * alert would raise another alert.
 */
import type { SyncStateStore } from "../kv/sync-state.js";

export interface Alert {
  title: string;
  detail?: string;
  correlationId?: string;
  /** A link to what the alert is about (the job's status URL). */
  link?: string;
}

export interface AlertSenderOptions {
  url: string;
  store: SyncStateStore;
  /** Messages per window at most (the rest are counted for the summary). */
  burst?: number;
  windowMs?: number;
  timeoutMs?: number;
  reportFailure?(message: string): void;
}

export interface AlertSender {
  /** Sends the alert now, or counts it as held back; never throws. */
  alert(alert: Alert): Promise<"sent" | "held_back" | "failed">;
  /** Sends one summary of what was held back since the last message, if anything was and a slot is free. */
  summarise(): Promise<boolean>;
}

const BUCKET = "alerts";
const COUNTS = "alerts-held-back";
const REPORTED = "alerts-held-back-reported";
const COUNTS_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const burst = options.burst ?? 3;
  const windowMs = options.windowMs ?? 10 * 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const report = options.reportFailure ?? (() => undefined);

  /** Held back since the last message that reported them (approximate across racing processes). */
  async function heldBackSinceReported(): Promise<number> {
    const total = (await options.store.readCounts(COUNTS)).held_back ?? 0;
    const reported = Number((await options.store.readValue(REPORTED)) ?? 0);
    return Math.max(0, total - reported);
  }

  async function markReported(): Promise<void> {
    const total = (await options.store.readCounts(COUNTS)).held_back ?? 0;
    await options.store.writeValue(REPORTED, String(total), COUNTS_TTL_MS);
  }

  async function post(text: string): Promise<boolean> {
    try {
      const response = await fetch(options.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) report(`alert webhook answered ${response.status}`);
      return response.ok;
    } catch (error) {
      report(`alert webhook unreachable: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  return {
    async alert(alert) {
      try {
        const slot = await options.store.reserveSlot(BUCKET, windowMs / burst, 0);
        if (!slot.granted) {
          await options.store.addCounts(COUNTS, { held_back: 1 }, COUNTS_TTL_MS);
          return "held_back";
        }
        const heldBack = await heldBackSinceReported();
        const lines = [
          `dropflow: ${alert.title}`,
          alert.detail,
          alert.link ? `<${alert.link}>` : undefined,
          alert.correlationId ? `correlation id: ${alert.correlationId}` : undefined,
          heldBack > 0 ? `(${heldBack} more alert${heldBack === 1 ? "" : "s"} held back since the last message)` : undefined,
        ].filter((line): line is string => Boolean(line));
        if (heldBack > 0) await markReported();
        return (await post(lines.join("\n"))) ? "sent" : "failed";
      } catch (error) {
        report(`alert not sent: ${error instanceof Error ? error.message : String(error)}`);
        return "failed";
      }
    },
    async summarise() {
      try {
        const heldBack = await heldBackSinceReported();
        if (heldBack === 0) return false;
        const slot = await options.store.reserveSlot(BUCKET, windowMs / burst, 0);
        if (!slot.granted) return false;
        await markReported();
        return post(`dropflow: ${heldBack} alert${heldBack === 1 ? "" : "s"} held back in the last minutes (rate limit); see GET /api/logs?level=error`);
      } catch (error) {
        report(`alert summary not sent: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      }
    },
  };
}
