/**
 * Service Layer sessions: pinned to a node at Login (round-robin, as the Apache balancer's
 * ROUTEID cookie does), kept alive by a sliding idle timeout on the simulator's clock, and
 * killed by the session faults (expireAfterRequests, nodeRecycleEveryN, admin restart).
 */
import { randomUUID } from "node:crypto";
import type { SapSimConfig } from "./types.js";

export interface Session {
  id: string;
  companyDb: string;
  user: string;
  /** 1-based: ROUTEID=.node<node>. */
  node: number;
  lastSeenAt: number;
  /** Requests served on it, for expireAfterRequests. */
  requests: number;
  /** Requests being served now, and those waiting for a slot (perSessionConcurrency). */
  active: number;
  waiting: Array<() => void>;
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; why: string };

/** `Cookie: a=b; c=d` as a map; the first of a repeated name wins, as browsers send the most specific first. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    if (name !== "" && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

export class Sessions {
  private readonly byId = new Map<string, Session>();
  private logins = 0;
  private checks = 0;
  private recycles = 0;

  constructor(
    private readonly now: () => number,
    private readonly config: () => SapSimConfig,
  ) {}

  clear(): void {
    this.byId.clear();
    this.logins = 0;
    this.checks = 0;
    this.recycles = 0;
  }

  private idleLimitMs(): number {
    return this.config().sessionTimeoutMin * 60_000;
  }

  private alive(session: Session, at: number): boolean {
    return at - session.lastSeenAt < this.idleLimitMs();
  }

  /** Live sessions, dropping those idle past the timeout. */
  count(): number {
    this.prune();
    return this.byId.size;
  }

  countFor(companyDb: string, user: string): number {
    this.prune();
    let n = 0;
    for (const session of this.byId.values()) if (session.companyDb === companyDb && session.user === user) n += 1;
    return n;
  }

  private prune(): void {
    const at = this.now();
    for (const [id, session] of this.byId) if (!this.alive(session, at)) this.byId.delete(id);
  }

  create(companyDb: string, user: string): Session {
    const nodes = this.config().nodes;
    const node = (this.logins % nodes) + 1;
    this.logins += 1;
    const session: Session = {
      id: randomUUID(),
      companyDb,
      user,
      node,
      lastSeenAt: this.now(),
      requests: 0,
      active: 0,
      waiting: [],
    };
    this.byId.set(session.id, session);
    return session;
  }

  end(id: string): void {
    this.byId.delete(id);
  }

  endAll(): void {
    this.byId.clear();
  }

  /** Whether the request's cookies name a live session; a valid one is refreshed and counted. */
  check(cookies: Map<string, string>): SessionCheck {
    const config = this.config();
    const id = cookies.get("B1SESSION");
    const routeId = cookies.get("ROUTEID");
    const found = id === undefined ? undefined : this.byId.get(id);
    if (config.nodeRecycleEveryN > 0) {
      this.checks += 1;
      if (this.checks % config.nodeRecycleEveryN === 0) this.recycle(this.routedNode(routeId, found));
    }
    if (id === undefined || id === "") return { ok: false, why: "no B1SESSION cookie" };
    const session = this.byId.get(id);
    if (session === undefined) return { ok: false, why: found ? "its node was recycled" : "unknown session" };
    const at = this.now();
    if (!this.alive(session, at)) {
      this.byId.delete(id);
      return { ok: false, why: "idle timeout" };
    }
    if (config.requireRouteId && routeId !== `.node${session.node}`) {
      return { ok: false, why: routeId === undefined ? "no ROUTEID cookie" : "ROUTEID names another node" };
    }
    if (config.expireAfterRequests > 0 && session.requests >= config.expireAfterRequests) {
      this.byId.delete(id);
      return { ok: false, why: "expireAfterRequests" };
    }
    session.requests += 1;
    session.lastSeenAt = at;
    return { ok: true, session };
  }

  /** The node a request lands on: its ROUTEID, else its session's node, else the next in turn. */
  private routedNode(routeId: string | undefined, session: Session | undefined): number {
    const nodes = this.config().nodes;
    const named = /^\.node(\d+)$/.exec(routeId ?? "");
    if (named && Number(named[1]) >= 1 && Number(named[1]) <= nodes) return Number(named[1]);
    if (session) return session.node;
    this.recycles += 1;
    return ((this.recycles - 1) % nodes) + 1;
  }

  private recycle(node: number): void {
    for (const [id, session] of this.byId) if (session.node === node) this.byId.delete(id);
  }

  /**
   * Waits for one of the session's `limit` slots (0 = no limit); resolves with the
   * release, which is safe to call more than once.
   */
  async slot(session: Session, limit: number): Promise<() => void> {
    if (limit > 0 && session.active >= limit) {
      await new Promise<void>((resolve) => session.waiting.push(resolve));
    } else {
      session.active += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = session.waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot jump the queue.
      if (next) next();
      else session.active -= 1;
    };
  }
}
