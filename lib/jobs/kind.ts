/**
 * defineJobKind: a kind's definition with its schemas applied, in the one shape the
 * engine works with. The engine hands it raw params and payloads (JSON from Postgres
 * and queue messages); each is parsed here, once per call, and the kind's functions
 * receive typed values. A payload that does not parse is bad data a retry will not
 * fix: a PermanentChunkError.
 */
import { z } from "zod";
import { AppError } from "../errors.js";
import type { Database } from "../db/client.js";
import type { JobStatus } from "../db/schema.js";
import type { Logger } from "../log/index.js";
import type { FlowControl } from "../queue/types.js";
import { parseInput } from "../validate.js";
import {
  type ChunkWork,
  type JobKindDefinition,
  type JobRecord,
  PermanentChunkError,
  type PlannedChunk,
  type SettledJob,
  type StepResult,
} from "./types.js";

interface JobCall {
  job: JobRecord;
  log: Logger;
}

/** How one chunk is delivered: its queue flow control and retries. */
export interface ChunkDelivery {
  flowControl: FlowControl;
  retries: number;
}

/**
 * POST /api/jobs: a job of a kind that allows it (`creatableViaApi`: the test and
 * benchmark kinds); the kind checks its params.
 */
export const CreateJobRequest = z.object({ kind: z.string().min(1).max(50), params: z.record(z.string(), z.unknown()).default({}) });

/** Deliveries of one job in flight at once by default, so one big import cannot starve the others. */
export const DEFAULT_PARALLELISM = 16;
/** Queue-side delivery attempts of one publication of a chunk (after the first), by default. */
export const DEFAULT_DELIVERY_RETRIES = 3;

/** A job kind as the engine holds it: raw values in, the kind's typed functions inside. */
export interface JobKind {
  readonly kind: string;
  readonly creatableViaApi: boolean;
  /** How long a claimed chunk is its worker's (ms); null: the configured lease. */
  readonly leaseMs: number | null;
  /** The delivery of one chunk of the job, by the kind's policy. */
  deliveryOf(job: Pick<JobRecord, "id" | "params">, payload: unknown): ChunkDelivery;
  /** New params from a request: parsed, or a 400 naming each bad field. */
  checkParams(input: unknown): unknown;
  plan(ctx: JobCall & { db: Database; signal: AbortSignal }): Promise<PlannedChunk[]>;
  /** The plan is not the whole job (JobKindDefinition.openEnded). */
  readonly openEnded: boolean;
  processChunk(
    ctx: JobCall & {
      chunk: number;
      payload: unknown;
      attempt: number;
      signal: AbortSignal;
      timeLeftMs(): number;
      commit(work: (tx: Database) => Promise<ChunkWork>): Promise<ChunkWork>;
    },
  ): Promise<ChunkWork>;
  /** The kind declared a job-wide step (JobKindDefinition.finalStep). */
  readonly hasFinalStep: boolean;
  finalStep(ctx: JobCall & { db: Database; signal: AbortSignal; timeLeftMs(): number }): Promise<StepResult>;
  settle(ctx: JobCall & { db: Database; status: JobStatus; counters: Record<string, number> }): Promise<SettledJob>;
  afterFinalise(ctx: JobCall & { db: Database; status: JobStatus; counters: Record<string, number> }): Promise<void>;
}

export function defineJobKind<Params, Payload>(definition: JobKindDefinition<Params, Payload>): JobKind {
  const paramsOf = (job: Pick<JobRecord, "id" | "params">): Params => {
    const parsed = definition.params.safeParse(job.params);
    // Params were checked when the job was created: failing now means the stored job
    // and this deployment's schema disagree, which no retry changes.
    if (!parsed.success) {
      throw new PermanentChunkError(`job ${job.id}: its params no longer match the ${definition.kind} schema: ${parsed.error.message}`);
    }
    return parsed.data;
  };
  const payloadOf = (payload: unknown): Payload => {
    const parsed = definition.payload.safeParse(payload);
    if (!parsed.success) {
      throw new PermanentChunkError(`a chunk payload does not match the ${definition.kind} schema: ${parsed.error.message}`);
    }
    return parsed.data;
  };
  const policy = definition.delivery ?? {};
  return {
    kind: definition.kind,
    creatableViaApi: definition.creatableViaApi ?? false,
    leaseMs: policy.leaseS === undefined ? null : policy.leaseS * 1000,
    deliveryOf: (job, payload) => {
      const key = policy.flowKey
        ? policy.flowKey({ jobId: job.id, params: paramsOf(job), payload: payloadOf(payload) })
        : `job-${job.id}`;
      const limits =
        policy.rate !== undefined
          ? { rate: policy.rate, period: policy.periodS ?? 1, ...(policy.parallelism ? { parallelism: policy.parallelism } : {}) }
          : { parallelism: policy.parallelism ?? DEFAULT_PARALLELISM };
      return { flowControl: { key, ...limits }, retries: policy.retries ?? DEFAULT_DELIVERY_RETRIES };
    },
    checkParams: (input) => parseInput(definition.params, input, "body"),
    plan: ({ job, db, log, signal }) => definition.plan({ job, params: paramsOf(job), db, log, signal }),
    openEnded: definition.openEnded ?? false,
    processChunk: async ({ payload, commit, ...ctx }) =>
      definition.processChunk({
        ...ctx,
        params: paramsOf(ctx.job),
        payload: payloadOf(payload),
        // The engine commits what the kind's work returns; the kind gets it back typed.
        commit: async (work) => {
          let done: ChunkWork<Payload> | undefined;
          await commit(async (tx) => (done = await work(tx)));
          if (!done) throw new Error("commit() finished without the chunk's work");
          return done;
        },
      }),
    hasFinalStep: definition.finalStep !== undefined,
    finalStep: async (ctx) => (definition.finalStep ? definition.finalStep({ ...ctx, params: paramsOf(ctx.job) }) : "done"),
    settle: async (ctx) =>
      definition.settle ? definition.settle({ ...ctx, params: paramsOf(ctx.job) }) : { status: ctx.status, counters: ctx.counters },
    afterFinalise: async (ctx) => {
      if (definition.afterFinalise) await definition.afterFinalise({ ...ctx, params: paramsOf(ctx.job) });
    },
  };
}

/**
 * The job kinds one runtime serves. Each runtime has its own (no process-wide
 * registry), so a test's kinds never leak into another suite's server.
 */
export class JobCatalogue {
  private readonly kinds = new Map<string, JobKind>();

  constructor(kinds: readonly JobKind[] = []) {
    this.add(...kinds);
  }

  /** Adds kinds; a kind of the same name is replaced. */
  add(...kinds: JobKind[]): this {
    for (const kind of kinds) this.kinds.set(kind.kind, kind);
    return this;
  }

  get(kind: string): JobKind | undefined {
    return this.kinds.get(kind);
  }

  /** The kind, or a 400 naming it. */
  require(kind: string): JobKind {
    const found = this.kinds.get(kind);
    if (!found) throw new AppError("bad_request", `Unknown job kind "${kind}".`);
    return found;
  }
}
