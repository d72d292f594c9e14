/**
 * The delivery side of the QStash stand-in: holds accepted messages until they are
 * due, gates them by flow control and a global parallelism cap, calls the
 * destination the way QStash does (method, exact body bytes, signed), retries with
 * QStash's backoff or the destination's `Retry-After`, and sends callbacks.
 *
 * How a message moves:
 *
 *   accept ──(delay)──> timer heap ──due──> key waitlist ──(parallelism, rate)──> ready FIFO
 *     ──(global cap, not paused)──> delivering ──2xx──> delivered
 *                                             └─fail──> timer heap (backoff) … or failed
 *
 * One timer is armed for the earliest entry of the heap, never one per message.
 * A key's `parallelism` counts messages it has released to the ready FIFO and not yet
 * settled, so it holds even while the global cap or a pause keeps them waiting there.
 * A key's `rate` counts actual delivery starts in a sliding window plus the released
 * ones not yet started, so no window of `period` ever sees more than `rate` starts.
 */
import http from "node:http";
import https from "node:https";
import { randomBytes } from "node:crypto";
import { logger } from "../../lib/log/index.js";
import { defaultBackoffMs, type FlowSettings, parseRetryAfterMs, type RetryDelay } from "./parse.js";
import { signDelivery } from "./signature.js";
import { Fifo, TimerHeap } from "./structures.js";

const log = logger("qstash");

export type MessageState = "scheduled" | "waiting" | "delivering" | "delivered" | "failed" | "dropped";
export type MessageRole = "message" | "callback" | "failure_callback";

/** Where a callback goes and how it is delivered (`Upstash-[Failure-]Callback-*` headers). */
export interface CallbackTarget {
  url: string;
  method: string;
  retries: number;
  timeoutMs: number | null;
  delayMs: number;
  /** Forwarded to the callback (prefix already stripped). */
  headers: Record<string, string>;
}

export interface MessageSpec {
  role: MessageRole;
  url: string;
  method: string;
  /** Delivered as they are: Content-Type and the forwarded headers, prefix stripped. */
  headers: Record<string, string>;
  body: Buffer;
  maxRetries: number;
  /** `Upstash-Retry-Delay`; null for QStash's default backoff. */
  retryDelay: RetryDelay | null;
  /** Per attempt; null for the server's default. */
  timeoutMs: number | null;
  /** Unscaled wait before the first attempt (delay or not-before), in ms. */
  delayMs: number;
  callback: CallbackTarget | null;
  failureCallback: CallbackTarget | null;
  flow: FlowSettings | null;
  sourceMessageId: string | null;
}

export interface AttemptRecord {
  retried: number;
  /** Wall clock, ms since the epoch. */
  startedAt: number;
  durationMs: number | null;
  status: number | null;
  error: string | null;
  dropped: boolean;
}

export interface MessageInfo {
  messageId: string;
  role: MessageRole;
  url: string;
  method: string;
  state: MessageState;
  /** Retries made so far (the `Upstash-Retried` of the latest attempt). */
  retried: number;
  maxRetries: number;
  flowControlKey: string | null;
  sourceMessageId: string | null;
  createdAt: number;
  notBefore: number;
  bodyBytes: number;
  /** The latest attempts, oldest first (at most MAX_ATTEMPT_RECORDS). */
  attempts: AttemptRecord[];
}

export interface SchedulerStats {
  accepted: number;
  delivered: number;
  failed: number;
  dropped: number;
  attempts: number;
  retries: number;
  callbacks: number;
  /** Messages accepted and not finished: scheduled + waiting + delivering. */
  active: number;
  scheduled: number;
  waiting: number;
  inFlight: number;
  peakInFlight: number;
  flowControlKeys: number;
  paused: boolean;
}

export interface SchedulerOptions {
  /** The key deliveries are signed with (QStash's current signing key). */
  signingKey: string;
  /** Multiplies every wait: delays, backoffs, Retry-After. 1 is real time. */
  timeScale: number;
  /** Deliveries in flight at once over all keys (QStash pay-as-you-go caps parallelism at 100). */
  maxInFlight: number;
  /** Per attempt, when the message names no Upstash-Timeout. */
  defaultTimeoutMs: number;
  /** Finished messages kept for inspection. */
  historyLimit: number;
  /** Response bytes kept for a callback's `body`; the rest is read and discarded. */
  maxResponseBodyBytes: number;
}

const MAX_ATTEMPT_RECORDS = 20;
const USER_AGENT = "Upstash-QStash";

interface Message extends MessageSpec {
  id: string;
  createdAt: number;
  notBefore: number;
  state: MessageState;
  retried: number;
  attempts: AttemptRecord[];
  /** Released by its key under a rate limit and not started yet (counted in `released`). */
  heldForRate: boolean;
}

interface FlowKey {
  name: string;
  parallelism: number;
  rate: number;
  periodMs: number;
  /** Released to the ready FIFO or delivering. */
  active: number;
  /** Released to the ready FIFO, not started yet (they already count against `rate`). */
  released: number;
  /** Start times (monotonic ms) inside the current rate window, oldest first. */
  starts: Fifo<number>;
  waiting: Fifo<Message>;
  /** Accepted messages with this key that have not finished; the key is forgotten at 0. */
  refs: number;
  wakeAt: number | null;
}

type Outcome =
  | { type: "response"; status: number; headers: Record<string, string[]>; body: Buffer }
  | { type: "error"; error: string };

type TimerEntry = { type: "message"; message: Message } | { type: "key"; key: string };

const monotonicNow = () => performance.now();

export function newMessageId(): string {
  return `msg_${randomBytes(18).toString("base64url")}`;
}

export class DeliveryScheduler {
  private readonly active = new Map<string, Message>();
  private readonly history = new Map<string, MessageInfo>();
  private readonly keys = new Map<string, FlowKey>();
  private readonly timers = new TimerHeap<TimerEntry>();
  private readonly ready = new Fifo<Message>();
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly idleWaiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private inFlight = 0;
  private dropBudget = 0;
  private paused = false;
  private closed = false;
  private counters = { accepted: 0, delivered: 0, failed: 0, dropped: 0, attempts: 0, retries: 0, callbacks: 0 };
  private peakInFlight = 0;
  private scheduledCount = 0;

  constructor(private readonly options: SchedulerOptions) {
    // Idle sockets are closed before Node's default 5 s server keep-alive can close them
    // under a request; the one reset that still slips through is retried in send().
    const agentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, timeout: 4_000 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  /** Takes over a message; returns its id. `id` lets the caller answer before scheduling. */
  accept(spec: MessageSpec, id = newMessageId()): string {
    if (this.closed) throw new Error("the QStash stand-in is closed");
    const createdAt = Date.now();
    const message: Message = {
      ...spec,
      id,
      createdAt,
      notBefore: createdAt + Math.max(0, spec.delayMs),
      state: "scheduled",
      retried: 0,
      attempts: [],
      heldForRate: false,
    };
    this.active.set(id, message);
    this.counters.accepted += 1;
    if (spec.role !== "message") this.counters.callbacks += 1;
    if (spec.flow) this.registerKey(spec.flow);
    if (spec.delayMs > 0) this.schedule(message, spec.delayMs * this.options.timeScale);
    else this.makeDue(message);
    this.pumpReady();
    return id;
  }

  /** The next `count` delivery attempts are lost: no response, no retry, no callback (0 cancels). */
  dropNext(count: number): void {
    this.dropBudget = count;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pumpReady();
  }

  /** Resolves once no message is scheduled, waiting or in flight (callbacks included). */
  idle(timeoutMs = 30_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.active.size === 0) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.idleWaiters.delete(wake);
        reject(new Error(`qstash stand-in: ${this.active.size} message(s) still pending after ${timeoutMs} ms`));
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve();
      };
      this.idleWaiters.add(wake);
    });
  }

  message(id: string): MessageInfo | undefined {
    const live = this.active.get(id);
    return live ? snapshot(live) : this.history.get(id);
  }

  /** Finished messages (the latest `historyLimit`) then the unfinished ones. */
  messages(): MessageInfo[] {
    return [...this.history.values(), ...[...this.active.values()].map(snapshot)];
  }

  stats(): SchedulerStats {
    return {
      ...this.counters,
      active: this.active.size,
      scheduled: this.scheduledCount,
      waiting: this.active.size - this.scheduledCount - this.inFlight,
      inFlight: this.inFlight,
      peakInFlight: this.peakInFlight,
      flowControlKeys: this.keys.size,
      paused: this.paused,
    };
  }

  /** Stops every timer and socket; messages not delivered yet are abandoned. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timers.clear();
    this.ready.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  // ── scheduling ────────────────────────────────────────────────────────────

  private registerKey(flow: FlowSettings): void {
    const existing = this.keys.get(flow.key);
    if (!existing) {
      this.keys.set(flow.key, {
        name: flow.key,
        parallelism: flow.parallelism,
        rate: flow.rate,
        periodMs: flow.periodMs,
        active: 0,
        released: 0,
        starts: new Fifo<number>(),
        waiting: new Fifo<Message>(),
        refs: 1,
        wakeAt: null,
      });
      return;
    }
    if (existing.refs === 0) {
      // Nobody uses the old settings any more: the new publish defines them.
      existing.parallelism = flow.parallelism;
      existing.rate = flow.rate;
      existing.periodMs = flow.periodMs;
    } else {
      // While old and new settings coexist, QStash lets the highest win.
      existing.parallelism = maxSet(existing.parallelism, flow.parallelism);
      if (flow.rate !== Infinity && (existing.rate === Infinity || flow.rate / flow.periodMs > existing.rate / existing.periodMs)) {
        existing.rate = flow.rate;
        existing.periodMs = flow.periodMs;
      }
    }
    existing.refs += 1;
  }

  private schedule(message: Message, waitMs: number): void {
    message.state = "scheduled";
    this.scheduledCount += 1;
    this.timers.push(monotonicNow() + waitMs, { type: "message", message });
    this.armTimer();
  }

  private armTimer(): void {
    if (this.closed) return;
    const next = this.timers.peekAt();
    if (next === undefined) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(next - monotonicNow())));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = monotonicNow();
    for (let entry = this.timers.popDue(now); entry; entry = this.timers.popDue(now)) {
      if (entry.type === "message") {
        this.scheduledCount -= 1;
        this.makeDue(entry.message);
      } else {
        this.wakeKey(entry.key);
      }
    }
    this.armTimer();
    this.pumpReady();
  }

  private makeDue(message: Message): void {
    message.state = "waiting";
    const key = message.flow ? this.keys.get(message.flow.key) : undefined;
    if (key) {
      key.waiting.push(message);
      this.pumpKey(key);
    } else {
      this.ready.push(message);
    }
  }

  /** Releases what the key's parallelism and rate allow to the ready FIFO. */
  private pumpKey(key: FlowKey): void {
    const now = monotonicNow();
    while (key.waiting.size > 0 && key.active < key.parallelism) {
      if (key.rate !== Infinity) {
        while (key.starts.size > 0 && (key.starts.peek() as number) <= now - key.periodMs) key.starts.shift();
        if (key.starts.size + key.released >= key.rate) {
          const oldest = key.starts.peek();
          // With only released-but-unstarted messages in the window, the wake is
          // scheduled when they start (dispatch pumps the key again).
          if (oldest !== undefined) this.wakeKeyAt(key, oldest + key.periodMs);
          return;
        }
      }
      const message = key.waiting.shift() as Message;
      if (key.rate !== Infinity) {
        key.released += 1;
        message.heldForRate = true;
      }
      key.active += 1;
      this.ready.push(message);
    }
  }

  private wakeKeyAt(key: FlowKey, at: number): void {
    if (key.wakeAt !== null && key.wakeAt <= at) return;
    key.wakeAt = at;
    this.timers.push(at, { type: "key", key: key.name });
    this.armTimer();
  }

  private wakeKey(name: string): void {
    const key = this.keys.get(name);
    if (!key) return;
    key.wakeAt = null;
    this.pumpKey(key);
    this.forgetKeyIfUnused(key);
  }

  /** A key is dropped once no message uses it and its rate window has passed. */
  private forgetKeyIfUnused(key: FlowKey): void {
    if (key.refs > 0 || key.active > 0) return;
    const now = monotonicNow();
    while (key.starts.size > 0 && (key.starts.peek() as number) <= now - key.periodMs) key.starts.shift();
    const newest = [...key.starts].at(-1);
    if (newest === undefined) this.keys.delete(key.name);
    else this.wakeKeyAt(key, newest + key.periodMs);
  }

  private pumpReady(): void {
    while (!this.paused && !this.closed && this.ready.size > 0 && this.inFlight < this.options.maxInFlight) {
      const message = this.ready.shift() as Message;
      const key = message.flow ? this.keys.get(message.flow.key) : undefined;
      if (key && message.heldForRate) {
        message.heldForRate = false;
        key.released -= 1;
      }
      if (key && key.rate !== Infinity) key.starts.push(monotonicNow());
      this.counters.attempts += 1;
      if (this.dropBudget > 0) {
        this.dropBudget -= 1;
        this.lose(message, key);
      } else {
        this.inFlight += 1;
        this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
        this.deliver(message);
      }
      if (key) this.pumpKey(key);
    }
  }

  // ── delivery ──────────────────────────────────────────────────────────────

  private lose(message: Message, key: FlowKey | undefined): void {
    recordAttempt(message, {
      retried: message.retried,
      startedAt: Date.now(),
      durationMs: 0,
      status: null,
      error: "dropped by dropNext()",
      dropped: true,
    });
    if (key) key.active -= 1;
    log.info("dropped a delivery on purpose (dropNext)", { message_id: message.id, url: message.url });
    this.finish(message, "dropped");
  }

  private deliver(message: Message): void {
    message.state = "delivering";
    const attempt: AttemptRecord = {
      retried: message.retried,
      startedAt: Date.now(),
      durationMs: null,
      status: null,
      error: null,
      dropped: false,
    };
    recordAttempt(message, attempt);
    const started = monotonicNow();
    this.send(message, true).then(
      (outcome) => this.settle(message, attempt, outcome, started),
      (error: unknown) => log.error("the QStash stand-in could not settle a delivery", { err: error, message_id: message.id }),
    );
  }

  private send(message: Message, mayRetryReset: boolean): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | null = null;
      const done = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        resolve(outcome);
      };
      const url = new URL(message.url);
      const headers: Record<string, string> = {
        ...message.headers,
        "upstash-signature": signDelivery(this.options.signingKey, message.url, message.body),
        "upstash-message-id": message.id,
        "upstash-retried": String(message.retried),
        "user-agent": USER_AGENT,
        "content-length": String(message.body.length),
      };
      const request = (url.protocol === "https:" ? https : http).request(
        url,
        { method: message.method, headers, agent: url.protocol === "https:" ? this.httpsAgent : this.httpAgent },
        (response) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on("data", (chunk: Buffer) => {
            if (kept >= this.options.maxResponseBodyBytes) return;
            const piece = chunk.subarray(0, this.options.maxResponseBodyBytes - kept);
            chunks.push(piece);
            kept += piece.length;
          });
          response.once("end", () =>
            done({
              type: "response",
              status: response.statusCode ?? 0,
              headers: response.headersDistinct as Record<string, string[]>,
              body: Buffer.concat(chunks),
            }),
          );
          response.once("error", (error) => done({ type: "error", error: error.message }));
          response.once("close", () => {
            if (!response.complete) done({ type: "error", error: "the response was cut off" });
          });
        },
      );
      const timeoutMs = message.timeoutMs ?? this.options.defaultTimeoutMs;
      timer = setTimeout(() => request.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      request.once("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as we wrote: the request never
        // arrived, so sending it again on a fresh socket is no retry (Node's own advice).
        if (mayRetryReset && request.reusedSocket && error.code === "ECONNRESET" && !settled) {
          settled = true;
          if (timer) clearTimeout(timer);
          resolve(this.send(message, false));
          return;
        }
        done({ type: "error", error: error.message });
      });
      request.end(message.body);
    });
  }

  private settle(message: Message, attempt: AttemptRecord, outcome: Outcome, started: number): void {
    attempt.durationMs = Math.round((monotonicNow() - started) * 10) / 10;
    if (outcome.type === "response") attempt.status = outcome.status;
    else attempt.error = outcome.error;
    this.inFlight -= 1;
    const key = message.flow ? this.keys.get(message.flow.key) : undefined;
    if (key) key.active -= 1;
    if (this.closed) return;

    const ok = outcome.type === "response" && outcome.status >= 200 && outcome.status < 300;
    if (message.callback) this.sendCallback(message, message.callback, outcome, false);
    if (ok) {
      this.finish(message, "delivered");
    } else if (message.retried >= message.maxRetries || isNonRetryable(outcome)) {
      log.warn("a message failed after its last retry", {
        message_id: message.id,
        role: message.role,
        url: message.url,
        retried: message.retried,
        ...outcomeFields(attempt),
      });
      if (message.failureCallback) this.sendCallback(message, message.failureCallback, outcome, true);
      this.finish(message, "failed");
    } else {
      const retryAfterMs =
        outcome.type === "response" ? parseRetryAfterMs(outcome.headers["retry-after"]?.[0], Date.now()) : null;
      const waitMs =
        retryAfterMs ?? (message.retryDelay ? message.retryDelay(message.retried) : defaultBackoffMs(message.retried + 1));
      log.debug("delivery failed; retrying", {
        message_id: message.id,
        url: message.url,
        retried: message.retried,
        ...outcomeFields(attempt),
        wait_ms: Math.round(waitMs * this.options.timeScale),
      });
      message.retried += 1;
      this.counters.retries += 1;
      this.schedule(message, waitMs * this.options.timeScale);
    }
    if (key) {
      this.pumpKey(key);
      this.forgetKeyIfUnused(key);
    }
    this.pumpReady();
  }

  private sendCallback(source: Message, target: CallbackTarget, outcome: Outcome, failure: boolean): void {
    const payload = {
      status: outcome.type === "response" ? outcome.status : 0,
      header: outcome.type === "response" ? outcome.headers : {},
      body: outcome.type === "response" ? outcome.body.toString("base64") : "",
      retried: source.retried,
      maxRetries: source.maxRetries,
      ...(failure ? { dlqId: `${Date.now()}-${randomBytes(4).readUInt32BE(0)}` } : {}),
      sourceMessageId: source.id,
      url: source.url,
      method: source.method,
      sourceHeader: Object.fromEntries(Object.entries(source.headers).map(([name, value]) => [name, [value]])),
      sourceBody: source.body.toString("base64"),
      notBefore: source.notBefore,
      createdAt: source.createdAt,
    };
    this.accept({
      role: failure ? "failure_callback" : "callback",
      url: target.url,
      method: target.method,
      headers: { "content-type": "application/json", ...target.headers },
      body: Buffer.from(JSON.stringify(payload)),
      maxRetries: target.retries,
      retryDelay: null,
      timeoutMs: target.timeoutMs,
      delayMs: target.delayMs,
      callback: null,
      failureCallback: null,
      flow: null,
      sourceMessageId: source.id,
    });
  }

  private finish(message: Message, state: "delivered" | "failed" | "dropped"): void {
    message.state = state;
    this.counters[state] += 1;
    this.active.delete(message.id);
    this.history.set(message.id, snapshot(message));
    if (this.history.size > this.options.historyLimit) {
      const oldest = this.history.keys().next().value as string;
      this.history.delete(oldest);
    }
    if (message.flow) {
      const key = this.keys.get(message.flow.key);
      if (key) {
        key.refs -= 1;
        this.forgetKeyIfUnused(key);
      }
    }
    if (this.active.size === 0) for (const wake of [...this.idleWaiters]) wake();
  }
}

function isNonRetryable(outcome: Outcome): boolean {
  // QStash's documented way for a destination to say "do not retry": 489 plus this header.
  return (
    outcome.type === "response" &&
    outcome.status === 489 &&
    outcome.headers["upstash-nonretryable-error"]?.[0]?.toLowerCase() === "true"
  );
}

function outcomeFields(attempt: AttemptRecord): { status: number } | { error: string | null } {
  return attempt.status === null ? { error: attempt.error } : { status: attempt.status };
}

function maxSet(a: number, b: number): number {
  if (a === Infinity) return b;
  if (b === Infinity) return a;
  return Math.max(a, b);
}

function recordAttempt(message: Message, attempt: AttemptRecord): void {
  message.attempts.push(attempt);
  if (message.attempts.length > MAX_ATTEMPT_RECORDS) message.attempts.shift();
}

function snapshot(message: Message): MessageInfo {
  return {
    messageId: message.id,
    role: message.role,
    url: message.url,
    method: message.method,
    state: message.state,
    retried: message.retried,
    maxRetries: message.maxRetries,
    flowControlKey: message.flow?.key ?? null,
    sourceMessageId: message.sourceMessageId,
    createdAt: message.createdAt,
    notBefore: message.notBefore,
    bodyBytes: message.body.length,
    attempts: message.attempts.map((attempt) => ({ ...attempt })),
  };
}
