/**
 * One SAP Service Layer session per run, shared by every worker and invocation of the
 * run through the sync state store: logged in once, re-logged in once when SAP says
 * the session is gone (401, or 403 on some load-balanced installations) however many
 * workers notice at the same moment (a lock, and a generation number that tells a
 * waiter someone else already logged in), and logged out when the run ends.
 *
 * Set-Cookie is parsed by hand: SAP's `B1SESSION=<id>;HttpOnly;` is a form some cookie
 * jars drop. Both cookies (B1SESSION and the load balancer's ROUTEID) are sent.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { SapSettings } from "../../config.js";
import type { SyncStateStore } from "../../kv/sync-state.js";
import { observed, UpstreamError } from "../errors.js";
import { isTransientStatus, sendUpstream } from "../request.js";

export interface SapSession {
  sessionId: string;
  routeId: string | null;
  /** Raised by every login of the run: a waiter knows a newer session from the one that failed it. */
  generation: number;
  /** SAP's idle timeout (sliding). */
  timeoutMs: number;
}

const StoredSession = z.object({
  sessionId: z.string().min(1),
  routeId: z.string().nullable(),
  generation: z.number().int(),
  timeoutMs: z.number().positive(),
});

const LoginBody = z.object({ SessionId: z.string().min(1).optional(), SessionTimeout: z.number().positive().optional() });
const ErrorBody = z.object({
  error: z.object({ code: z.union([z.number(), z.string()]), message: z.union([z.string(), z.object({ value: z.string() })]) }),
});

/** How long a login may take before a waiting worker tries itself. */
const LOGIN_LOCK_MS = 60_000;
const POLL_MS = 50;
/** How often a worker extends the stored session's life while it uses it. */
const SESSION_REFRESH_MS = 60_000;

export interface SessionCallContext {
  timeLeftMs(): number;
  signal?: AbortSignal;
  count(name: "logins", n?: number): void;
  /** A request is about to go out (counted before it is sent). */
  sending(): Promise<void>;
  /** One request ended (its outcome and latency, for the metrics). */
  observe?(outcome: string, seconds: number): void;
}

export interface SapSessions {
  /** The run's current session (logging in when there is none). */
  current(ctx: SessionCallContext): Promise<SapSession>;
  /** The session `stale` was refused: the run's next one, from whichever worker logs in first. */
  renew(stale: SapSession, ctx: SessionCallContext): Promise<SapSession>;
  /** Logs the run's session out (errors ignored: SAP ends idle sessions itself) and forgets it. */
  logout(ctx: SessionCallContext): Promise<boolean>;
  cookieHeader(session: SapSession): string;
}

export function sapErrorText(text: string): string | null {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (!parsed.success) return null;
    const { code, message } = parsed.data.error;
    return `${typeof message === "string" ? message : message.value} (code ${code})`;
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}

function cookieValue(setCookies: string[], name: string): string | null {
  for (const header of setCookies) {
    const [pair] = header.split(";");
    const at = pair?.indexOf("=") ?? -1;
    if (pair && at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim() || null;
  }
  return null;
}

export function createSapSessions(options: {
  settings: SapSettings;
  store: SyncStateStore;
  /** The run's key: one session per run. */
  runId: string;
  timeoutMs: number;
}): SapSessions {
  const { settings, store, runId } = options;
  const sessionKey = `sap-session:${runId}`;
  const lockKey = `sap-login:${runId}`;
  const failedKey = `sap-login-failed:${runId}`;
  /** Set by the logout at the run's end: a chunk still in flight (a cancel) must not open a new session. */
  const endedKey = `sap-run-ended:${runId}`;
  const owner = randomUUID();
  let cached: SapSession | null = null;
  const cookieHeader = (session: SapSession) => `B1SESSION=${session.sessionId}${session.routeId ? `; ROUTEID=${session.routeId}` : ""}`;

  async function read(): Promise<SapSession | null> {
    const text = await store.readValue(sessionKey);
    if (text === null) return null;
    const parsed = StoredSession.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  }

  async function login(generation: number, ctx: SessionCallContext): Promise<SapSession> {
    ctx.count("logins");
    await ctx.sending();
    return observed(ctx.observe, () => loginRequest(generation, ctx));
  }

  async function loginRequest(generation: number, ctx: SessionCallContext): Promise<SapSession> {
    const response = await sendUpstream({
      url: `${settings.url}/Login`,
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ CompanyDB: settings.companyDb, UserName: settings.user, Password: settings.password }),
      timeoutMs: options.timeoutMs,
          timeLeftMs: ctx.timeLeftMs(),
      budget: ctx.signal,
    });
    if (response.status === 401 || response.status === 403 || response.status === 400) {
      const reason = sapErrorText(response.text) ?? `HTTP ${response.status}`;
      throw new UpstreamError("fatal", `SAP Login as ${settings.user} on ${settings.companyDb} refused: ${reason}`, { status: response.status });
    }
    if (isTransientStatus(response.status) || response.status !== 200) {
      throw new UpstreamError("transient", `SAP Login: HTTP ${response.status}`, { status: response.status });
    }
    let body: z.infer<typeof LoginBody> = {};
    try {
      const parsed = LoginBody.safeParse(JSON.parse(response.text));
      if (parsed.success) body = parsed.data;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
    const cookies = response.headers.getSetCookie();
    const sessionId = cookieValue(cookies, "B1SESSION") ?? body.SessionId;
    if (!sessionId) throw new UpstreamError("bad_data", "SAP Login answered 200 without a B1SESSION cookie or SessionId");
    const session: SapSession = {
      sessionId,
      routeId: cookieValue(cookies, "ROUTEID"),
      generation,
      timeoutMs: (body.SessionTimeout ?? 30) * 60_000,
    };
    await store.writeValue(sessionKey, JSON.stringify(session), session.timeoutMs);
    return session;
  }

  /** Logs in unless someone else did since `stale`; one login at a time per run. */
  async function loginOnce(stale: SapSession | null, ctx: SessionCallContext): Promise<SapSession> {
    for (;;) {
      const current = await read();
      if (current && (!stale || current.generation > stale.generation)) return current;
      const failure = await store.readValue(failedKey);
      if (failure !== null) throw new UpstreamError("fatal", failure);
      if ((await store.readValue(endedKey)) !== null) throw new UpstreamError("transient", "the run has ended: no new SAP session");
      if (await store.tryLock(lockKey, owner, LOGIN_LOCK_MS)) {
        try {
          const again = await read();
          if (again && (!stale || again.generation > stale.generation)) return again;
          return await login(Math.max(stale?.generation ?? 0, again?.generation ?? 0) + 1, ctx);
        } catch (error) {
          // Waiting workers must not each try the refused password again.
          if (error instanceof UpstreamError && error.failure === "fatal") await store.writeValue(failedKey, error.message, LOGIN_LOCK_MS);
          throw error;
        } finally {
          await store.unlock(lockKey, owner);
        }
      }
      if (ctx.timeLeftMs() < POLL_MS * 2) throw new UpstreamError("transient", "SAP login by another worker did not finish in time", { budgetRanOut: true });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  let refreshedAt = 0;

  return {
    async current(ctx) {
      // SAP's timeout slides with every request; so does the stored copy's life (once a
      // minute is enough), or a run longer than the timeout would lose it and log in again.
      if (cached && Date.now() - refreshedAt > Math.min(SESSION_REFRESH_MS, cached.timeoutMs / 3)) {
        const stored = await read();
        if (stored && stored.generation >= cached.generation) {
          cached = stored;
          await store.writeValue(sessionKey, JSON.stringify(stored), stored.timeoutMs);
        } else if (!stored) {
          cached = null;
        }
        refreshedAt = Date.now();
      }
      if (!cached) {
        cached = await loginOnce(null, ctx);
        refreshedAt = Date.now();
      }
      return cached;
    },
    async renew(stale, ctx) {
      cached = await loginOnce(stale, ctx);
      return cached;
    },
    async logout(ctx) {
      await store.writeValue(endedKey, "1", LOGIN_LOCK_MS * 60);
      const session = await read();
      cached = null;
      if (!session) return false;
      await store.deleteValue(sessionKey);
      await ctx.sending();
      try {
        await sendUpstream({
          url: `${settings.url}/Logout`,
          method: "POST",
          headers: { cookie: cookieHeader(session) },
          timeoutMs: Math.min(options.timeoutMs, 10_000),
        });
      } catch (error) {
        // SAP ends an idle session by itself; a failed Logout must not fail the run's end.
        if (!(error instanceof UpstreamError)) throw error;
      }
      return true;
    },
    cookieHeader,
  };
}
