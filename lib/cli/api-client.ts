/**
 * The CLI's client of the dropflow HTTP API (README, "HTTP API"): the bearer token on
 * every request, one correlation id per command (so the server's logs of one command
 * are found together), JSON answers checked with zod, and every failure turned into one
 * CliError line: a refused token, an unreachable server, a problem the API answered
 * (its code, message and fields), or an answer that is not dropflow's.
 *
 * Requests that are safe to repeat (GETs, and POSTs that carry an Idempotency-Key, which
 * the API answers once) are tried again after a network error or a 502/503/504, so a
 * long import is not abandoned over one dropped poll.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { CliError } from "./exit-codes.js";

const Problem = z.object({
  error: z
    .object({
      code: z.string(),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), location: z.string().optional(), message: z.string() })).optional(),
      correlation_id: z.string().optional(),
      job_id: z.string().optional(),
    })
    .loose(),
});

export type Query = Record<string, string | number | boolean | undefined>;

export interface ApiClientOptions {
  /** The deployment's origin, e.g. https://dropflow.example.com (no trailing slash). */
  baseUrl: string;
  token: string;
  /** Waits before the 2nd, 3rd… try of a repeatable request. */
  retryDelaysMs?: readonly number[];
}

const DEFAULT_RETRY_DELAYS_MS = [500, 2_000];
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

export class DropflowApi {
  readonly baseUrl: string;
  /** Sent as x-correlation-id on every request of this command. */
  readonly correlationId = `cli-${randomUUID()}`;
  private readonly token: string;
  private readonly retryDelaysMs: readonly number[];

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  }

  async get<S extends z.ZodType>(path: string, schema: S, query: Query = {}): Promise<z.output<S>> {
    const response = await this.send("GET", withQuery(path, query), {}, true);
    return this.parse(response, "GET", path, schema);
  }

  /**
   * POSTs JSON. With `idempotencyKey` the request may be repeated after a network error
   * (the API answers the first response again); without, it is sent once.
   */
  async post<S extends z.ZodType>(path: string, body: unknown, schema: S, options: { idempotencyKey?: string } = {}): Promise<z.output<S>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    const response = await this.send("POST", path, { body: JSON.stringify(body), headers }, Boolean(options.idempotencyKey));
    return this.parse(response, "POST", path, schema);
  }

  /** A download's body as it streams (the CSV routes), after its status was checked. */
  async download(path: string, query: Query = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send("GET", withQuery(path, query), {}, true);
    if (!response.body) throw new CliError("bad_response", `GET ${path} answered ${response.status} without a body`);
    return response.body;
  }

  private async send(method: string, path: string, init: { body?: string; headers?: Record<string, string> }, repeatable: boolean): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const headers = { authorization: `Bearer ${this.token}`, "x-correlation-id": this.correlationId, ...init.headers };
    const delays = repeatable ? this.retryDelaysMs : [];
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(url, { method, headers, body: init.body, redirect: "manual" });
      } catch (error) {
        if (attempt < delays.length) {
          await sleep(delays[attempt] as number);
          continue;
        }
        throw new CliError("network", `cannot reach ${this.baseUrl} (${networkReason(error)}); check --url or DROPFLOW_URL`);
      }
      if (RETRYABLE_STATUSES.has(response.status) && attempt < delays.length) {
        await response.body?.cancel();
        await sleep(delays[attempt] as number);
        continue;
      }
      if (response.ok) return response;
      throw await this.failure(method, path, response);
    }
  }

  private async parse<S extends z.ZodType>(response: Response, method: string, path: string, schema: S): Promise<z.output<S>> {
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      throw notDropflow(method, path, response.status, this.baseUrl);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
      throw new CliError("bad_response", `${method} ${path} answered a shape this CLI does not know (${issue?.message ?? "invalid"}${where}); is the CLI older than ${this.baseUrl}?`);
    }
    return parsed.data;
  }

  /** The CliError for an answer that is not 2xx: the API's problem in one line. */
  private async failure(method: string, path: string, response: Response): Promise<CliError> {
    const text = await response.text();
    let problem: z.output<typeof Problem>["error"] | null = null;
    try {
      const parsed = Problem.safeParse(JSON.parse(text));
      if (parsed.success) problem = parsed.data.error;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
    if (response.status === 401) {
      return new CliError("unauthorized", `the API token was refused by ${this.baseUrl} (401 unauthorized); check --token or DROPFLOW_TOKEN`, {
        status: 401,
      });
    }
    if (problem === null) {
      if (response.status >= 300 && response.status < 400) {
        return new CliError("http_error", `${method} ${path} was redirected to ${response.headers.get("location") ?? "elsewhere"}; give --url the address it redirects to`, {
          status: response.status,
        });
      }
      return notDropflow(method, path, response.status, this.baseUrl);
    }
    const fields = (problem.fields ?? []).map((field) => `${field.field} ${field.message}`).join("; ");
    const correlation = response.status >= 500 ? ` (correlation id ${problem.correlation_id ?? this.correlationId})` : "";
    const details: Record<string, string | number> = { status: response.status, api_code: problem.code };
    if (problem.job_id) details.job_id = problem.job_id;
    return new CliError(
      "http_error",
      `${method} ${path} answered ${response.status} ${problem.code}: ${problem.message}${fields ? ` (${fields})` : ""}${correlation}`,
      details,
    );
  }
}

function notDropflow(method: string, path: string, status: number, baseUrl: string): CliError {
  return new CliError("bad_response", `${method} ${path} answered ${status} without dropflow's JSON; is ${baseUrl} a dropflow deployment?`, { status });
}

function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Why fetch failed, as a person would say it: the system's code (ECONNREFUSED, ENOTFOUND) when there is one. */
export function networkReason(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
