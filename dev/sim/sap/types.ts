/**
 * The SAP Business One Service Layer simulator's public types (docs: the header of
 * server.ts and docs/local-services.md). The client and its tests are
 * written against exactly these names.
 */

export interface SapSimCompanySeed {
  companyDb: string;
  users: Array<{ name: string; password: string; locked?: boolean }>;
  /** How many items the company starts with. */
  items: number;
}

export interface SapSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Default 1. */
  seed?: number;
  /** Default: one company SBODEMO, user manager / sim-password, 2,000 items. */
  companies?: SapSimCompanySeed[];
  /** Applied over the defaults at start (and again by reset()). */
  config?: SapSimConfigPatch;
}

export interface SapRequestRecord {
  /** When the request arrived, on the simulator's clock (Date.now() + the advanceClock offset). */
  at: number;
  method: string;
  /** "Login" | "Logout" | "Items" | "Items/$count" | "Items('code')" | "$metadata", or the unknown segment. */
  route: string;
  /** The B1SESSION the request carried (for Login: the session it created), else null. */
  session: string | null;
  /** 0 while no answer was sent: in flight, or hung until the client gave up. */
  status: number;
  latencyMs: number;
  /** The raw query string, without "?", when there was one. */
  query?: string;
}

export type SapYesNo = "tYES" | "tNO";

export interface SapItem {
  ItemCode: string;
  ItemName: string;
  ForeignName: string | null;
  ItemsGroupCode: number;
  BarCode: string | null;
  QuantityOnStock: number;
  Valid: SapYesNo;
  Frozen: SapYesNo;
  SalesItem: SapYesNo;
  InventoryItem: SapYesNo;
  /** YYYY-MM-DD */
  CreateDate: string;
  /** YYYY-MM-DD */
  UpdateDate: string;
  /** HH:MM:SS */
  UpdateTime: string;
  ItemPrices: Array<{ PriceList: number; Price: number; Currency: string }>;
}

export type SapFaultKind = "json500" | "empty500" | "proxy502" | "503" | "504" | "hang" | "invalidSession" | "slow";

export type SapFaultRoute = "Login" | "Items" | "Items/$count" | "Logout" | "*";

export interface SapFault {
  /** Default "*" (every Service Layer route, Items('code') and $metadata included). */
  route?: SapFaultRoute;
  /** Match only requests whose $skip equals this (a request without $skip has 0). */
  skip?: number;
  /** How many matching requests get this answer before the fault is used up. */
  times: number;
  respond: {
    kind: SapFaultKind;
    /** Wait before the answer; for "slow", the extra wait before the normal answer (default 90,000). */
    delayMs?: number;
  };
}

export type SapMutationOp = "insert" | "delete" | "rename" | "touch";

export interface SapMutation {
  op: SapMutationOp;
  count: number;
  /** insert only: the new codes sort before this code (between existing codes). */
  before?: string;
}

export interface SapSimConfig {
  /** Wait before a successful Login's answer. The real Service Layer takes ~1,500 ms; 0 keeps tests fast. */
  loginMs: number;
  /** Wait before a failed Login's answer (the real one takes seconds, ~5,000 ms). */
  badLoginMs: number;
  /** "odd": `B1SESSION=<id>;HttpOnly;` as the real one sends; "standard": `B1SESSION=<id>; Path=/b1s; HttpOnly`. */
  cookieStyle: "odd" | "standard";
  /** Load-balanced nodes; Login pins sessions to them round-robin (ROUTEID=.node1 …). */
  nodes: number;
  /** License cap on live sessions per company user; 0 = unlimited. */
  maxSessionsPerUser: number;
  /** Idle timeout, sliding: every valid request refreshes it. */
  sessionTimeoutMin: number;
  /** What an invalid session gets: 401 as documented, 403 as one load-balanced site answered. */
  invalidSessionStatus: 401 | 403;
  /** A request without the session's ROUTEID cookie (or with another node's) is an invalid session. */
  requireRouteId: boolean;
  /** A session dies after its k-th request (that request is still served); 0 = off. */
  expireAfterRequests: number;
  /** Every N-th session request recycles the node it is routed to: that node's sessions die (that request's too); 0 = off. */
  nodeRecycleEveryN: number;
  /** A request carrying `Expect: 100-continue` gets an empty 500, as behind the real Apache balancer. */
  expect100Fails: boolean;
  /** Page size when the request names none (b1s.conf PageSize); 0 = no paging. */
  defaultPageSize: number;
  /** Cap on a requested page size; 0 = no cap. A requested 0 still disables paging. */
  maxPageSize: number;
  nextLinkStyle: "absolute-path" | "relative" | "drops-filter";
  /** 1: OData v3 names (odata.metadata, odata.nextLink, odata.count, $inlinecount); 2: OData v4 (@odata.*, $count=true). */
  odataVersion: 1 | 2;
  /** Row order without $orderby (and the tie-break with one, except for unstable). */
  defaultOrder: "ItemCode" | "insertion" | "unstable-when-no-orderby";
  /** Items/$count answers 200 with an empty body or an HTML page instead of the number. */
  countGarbage: "off" | "empty" | "html";
  latency: {
    /** Every request but Login waits this long (concurrently: requests overlap). */
    baseMs: number;
    /** Added per row returned. */
    perRowMs: number;
    /** Added uniformly in [0, jitterMs). */
    jitterMs: number;
    /** A request but Login is never answered (until the client gives up). */
    hangProbability: number;
  };
  /** Requests of one session served at a time (the rest queue); 0 = unlimited. */
  perSessionConcurrency: number;
  /** Random gateway errors on every route, the kind picked uniformly from `kinds`. */
  errors: { probability: number; kinds: SapFaultKind[] };
  /** Applied after every served Items page, each op with its probability. */
  mutation: { perRequest: Array<{ op: SapMutationOp; count: number; probability: number }> };
}

/** Objects merge key by key; arrays and scalars replace. */
export type SapSimConfigPatch = {
  [K in keyof SapSimConfig]?: SapSimConfig[K] extends unknown[]
    ? SapSimConfig[K]
    : SapSimConfig[K] extends object
      ? { [P in keyof SapSimConfig[K]]?: SapSimConfig[K][P] }
      : SapSimConfig[K];
};

export interface SapSimulator {
  /** http://host:port; the Service Layer root for clients is `${url}/b1s/v1`. */
  url: string;
  port: number;
  /** Back to the start: the seed, companies and config given at start, no sessions, empty log, no faults, clock offset 0. */
  reset(): void;
  /** New data from `seed`; every session ends. Config, faults, log and clock stay. */
  seed(seed: number, companies: SapSimCompanySeed[]): void;
  /** Deep-merge (objects merge, arrays replace); throws on an unknown key or a bad value. */
  configure(patch: SapSimConfigPatch): void;
  addFaults(faults: SapFault[]): void;
  mutate(companyDb: string, ops: SapMutation[]): void;
  /** Fake time for session idle expiry and for "today" in touched items: adds to an offset over Date.now(). */
  advanceClock(ms: number): void;
  /** Every live session becomes invalid (an admin restart). */
  expireSessions(): void;
  requests(): SapRequestRecord[];
  /** Current items, ItemCode order. */
  items(companyDb: string): SapItem[];
  /** Live sessions. */
  sessionCount(): number;
  close(): Promise<void>;
}
