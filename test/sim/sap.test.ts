/**
 * The SAP Business One Service Layer simulator (dev/sim/sap), in-process on a free port,
 * driven with plain fetch as a client would: sessions and their faults, the OData query
 * options and server-driven paging, gateway faults, data changing under a scan, latency,
 * determinism and the control API. Small data (230 items) keeps it fast.
 */
import { request } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SapItem, type SapSimulator, startSapSimulator } from "../../dev/sim/sap/server.js";

const ITEMS = 230;
const COMPANIES = [
  {
    companyDb: "SBODEMO",
    users: [
      { name: "manager", password: "sim-password" },
      { name: "clerk", password: "clerk-pw", locked: true },
    ],
    items: ITEMS,
  },
  { companyDb: "SBOTEST", users: [{ name: "manager", password: "other" }], items: 40 },
];

let sim: SapSimulator;
let all: SapItem[];
const sl = (route: string) => `${sim.url}/b1s/v1/${route}`;

beforeAll(async () => {
  sim = await startSapSimulator({ seed: 7, companies: COMPANIES });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(() => {
  sim.reset();
  all = sim.items("SBODEMO");
});

interface SlErrorBody {
  error: { code: number; message: { lang: string; value: string } };
}

interface Collection {
  "odata.metadata"?: string;
  "odata.nextLink"?: string;
  "odata.count"?: string;
  "@odata.context"?: string;
  "@odata.nextLink"?: string;
  "@odata.count"?: number;
  value: Array<Partial<SapItem>>;
}

/** The cookies a client sends back, read from Set-Cookie by hand (the odd form defeats cookie jars). */
function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((cookie) => cookie.split(";")[0])
    .join("; ");
}

function postLogin(body: unknown): Promise<Response> {
  return fetch(sl("Login"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function login(user = "manager", password = "sim-password", company = "SBODEMO"): Promise<string> {
  const response = await postLogin({ CompanyDB: company, UserName: user, Password: password });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return cookiesOf(response);
}

function get(route: string, cookie: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(route.startsWith("http") ? route : sl(route), { headers: { cookie, ...headers } });
}

async function getJson<T = Collection>(route: string, cookie: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await get(route, cookie, headers);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as T;
}

async function expectSlError(response: Response, status: number, code: number): Promise<string> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as SlErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.message.lang).toBe("en-us");
  return body.error.message.value;
}

/** Every ItemCode the filter selects, in one unpaged answer. */
async function codesWhere(filter: string, cookie: string): Promise<string[]> {
  const body = await getJson(`Items?$select=ItemCode&$filter=${encodeURIComponent(filter)}`, cookie, { "B1S-PageSize": "0" });
  return body.value.map((item) => item.ItemCode as string);
}

const codes = (items: SapItem[]) => items.map((item) => item.ItemCode);

describe("Login", () => {
  it("answers the session and sets B1SESSION in the odd ;HttpOnly; form and ROUTEID round-robin", async () => {
    const response = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      "odata.metadata": `${sim.url}/b1s/v1/$metadata#B1Sessions/@Element`,
      SessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Version: "1000110",
      SessionTimeout: 30,
    });
    expect(response.headers.getSetCookie()).toEqual([`B1SESSION=${body.SessionId as string};HttpOnly;`, "ROUTEID=.node1; path=/b1s"]);
    const second = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(second.headers.getSetCookie()[1]).toBe("ROUTEID=.node2; path=/b1s");
    const third = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(third.headers.getSetCookie()[1]).toBe("ROUTEID=.node1; path=/b1s");
    expect(sim.sessionCount()).toBe(3);
  });

  it("sets a standard cookie with cookieStyle standard", async () => {
    sim.configure({ cookieStyle: "standard" });
    const response = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    const { SessionId } = (await response.json()) as { SessionId: string };
    expect(response.headers.getSetCookie()[0]).toBe(`B1SESSION=${SessionId}; Path=/b1s; HttpOnly`);
  });

  it("refuses a wrong password, a locked user and an unknown company with their codes", async () => {
    const bad = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "nope" });
    expect(await expectSlError(bad, 401, 100000027)).toBe("Login failed");
    const unknownUser = await postLogin({ CompanyDB: "SBODEMO", UserName: "ghost", Password: "sim-password" });
    await expectSlError(unknownUser, 401, 100000027);
    const locked = await postLogin({ CompanyDB: "SBODEMO", UserName: "clerk", Password: "clerk-pw" });
    expect(await expectSlError(locked, 401, 100000055)).toMatch(/locked/i);
    const company = await postLogin({ CompanyDB: "NOPE", UserName: "manager", Password: "sim-password" });
    expect(await expectSlError(company, 401, -304)).toBe("Fail to get DB Credentials from SLD server");
    expect(sim.sessionCount()).toBe(0);
    expect(sim.requests().map((record) => [record.route, record.status, record.session])).toEqual([
      ["Login", 401, null],
      ["Login", 401, null],
      ["Login", 401, null],
      ["Login", 401, null],
    ]);
  });

  it("logs in to each company with its own users", async () => {
    const cookie = await login("manager", "other", "SBOTEST");
    expect(await (await get("Items/$count", cookie)).text()).toBe("40");
  });

  it("enforces maxSessionsPerUser as a license error until a session is logged out", async () => {
    sim.configure({ maxSessionsPerUser: 1 });
    const cookie = await login();
    const second = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(await expectSlError(second, 401, 100000048)).toMatch(/license/i);
    const logout = await fetch(sl("Logout"), { method: "POST", headers: { cookie } });
    expect(logout.status).toBe(204);
    await login();
  });

  it("waits loginMs and badLoginMs", async () => {
    sim.configure({ loginMs: 150, badLoginMs: 250 });
    let started = performance.now();
    await login();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    started = performance.now();
    const bad = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "nope" });
    expect(bad.status).toBe(401);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });

  it("answers a malformed Login with 400 and a GET Login with 405", async () => {
    const garbage = await fetch(sl("Login"), { method: "POST", body: "{not json" });
    await expectSlError(garbage, 400, -1000);
    const missing = await postLogin({ CompanyDB: "SBODEMO" });
    await expectSlError(missing, 400, -1000);
    const wrongMethod = await fetch(sl("Login"));
    expect(wrongMethod.status).toBe(405);
    await wrongMethod.arrayBuffer();
  });

  it("answers Expect: 100-continue with an empty 500 when expect100Fails is on", async () => {
    const body = JSON.stringify({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    const send = () =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(sl("Login"), {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), expect: "100-continue" },
        });
        req.on("continue", () => req.end(body));
        req.on("response", (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, text });
            req.destroy();
          });
        });
        req.on("error", reject);
      });
    expect((await send()).status).toBe(200);
    sim.configure({ expect100Fails: true });
    expect(await send()).toEqual({ status: 500, text: "" });
    expect(sim.requests().at(-1)).toMatchObject({ route: "Login", status: 500 });
  });
});

describe("sessions", () => {
  it("needs a valid B1SESSION on every other route: 401 code 301", async () => {
    for (const cookie of ["", "B1SESSION=not-a-session", "ROUTEID=.node1"]) {
      const response = await get("Items", cookie);
      expect(await expectSlError(response, 401, 301)).toBe("Invalid session or session already timeout.");
    }
    const count = await get("Items/$count", "");
    await expectSlError(count, 401, 301);
  });

  it("answers 403 instead with invalidSessionStatus 403", async () => {
    sim.configure({ invalidSessionStatus: 403 });
    await expectSlError(await get("Items", "B1SESSION=stale"), 403, 301);
  });

  it("ends the session on Logout", async () => {
    const cookie = await login();
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    const logout = await fetch(sl("Logout"), { method: "POST", headers: { cookie } });
    expect(logout.status).toBe(204);
    expect(await logout.text()).toBe("");
    expect(sim.sessionCount()).toBe(0);
    await expectSlError(await get("Items?$top=1", cookie), 401, 301);
    await expectSlError(await fetch(sl("Logout"), { method: "POST", headers: { cookie } }), 401, 301);
  });

  it("expires a session idle for sessionTimeoutMin on the simulator clock; each request slides it", async () => {
    const cookie = await login();
    const minute = 60_000;
    sim.advanceClock(29 * minute + 59_000);
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    sim.advanceClock(29 * minute + 59_000);
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    expect(sim.sessionCount()).toBe(1);
    sim.advanceClock(30 * minute);
    expect(sim.sessionCount()).toBe(0);
    await expectSlError(await get("Items?$top=1", cookie), 401, 301);
  });

  it("honours a shorter sessionTimeoutMin and reports it at Login", async () => {
    sim.configure({ sessionTimeoutMin: 1 });
    const response = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(((await response.json()) as { SessionTimeout: number }).SessionTimeout).toBe(1);
    sim.advanceClock(61_000);
    await expectSlError(await get("Items", cookiesOf(response)), 401, 301);
  });

  it("kills a session after its k-th request with expireAfterRequests", async () => {
    sim.configure({ expireAfterRequests: 3 });
    const cookie = await login();
    for (let i = 0; i < 3; i++) expect((await get("Items?$top=1", cookie)).status).toBe(200);
    await expectSlError(await get("Items?$top=1", cookie), 401, 301);
    const fresh = await login();
    expect((await get("Items?$top=1", fresh)).status).toBe(200);
  });

  it("recycles a node every N requests, ending only the sessions pinned to it", async () => {
    sim.configure({ nodeRecycleEveryN: 3 });
    const first = await login(); // .node1
    const second = await login(); // .node2
    expect(first).toContain("ROUTEID=.node1");
    expect(second).toContain("ROUTEID=.node2");
    expect((await get("Items?$top=1", first)).status).toBe(200);
    expect((await get("Items?$top=1", second)).status).toBe(200);
    // The third request lands on node1 as it is recycled.
    await expectSlError(await get("Items?$top=1", first), 401, 301);
    expect((await get("Items?$top=1", second)).status).toBe(200);
    expect(sim.sessionCount()).toBe(1);
  });

  it("needs ROUTEID with requireRouteId", async () => {
    sim.configure({ requireRouteId: true });
    const cookie = await login();
    const b1session = cookie.split("; ")[0] as string;
    await expectSlError(await get("Items?$top=1", b1session), 401, 301);
    await expectSlError(await get("Items?$top=1", `${b1session}; ROUTEID=.node2`), 401, 301);
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
  });

  it("ends every session with expireSessions (an admin restart)", async () => {
    const one = await login();
    const two = await login();
    sim.expireSessions();
    expect(sim.sessionCount()).toBe(0);
    await expectSlError(await get("Items", one), 401, 301);
    await expectSlError(await get("Items", two), 401, 301);
  });
});

describe("Items query options", () => {
  let cookie: string;
  beforeEach(async () => {
    cookie = await login();
  });

  it("serves 20 items in ItemCode order by default, every property, prices in RON", async () => {
    const body = await getJson("Items", cookie);
    expect(body["odata.metadata"]).toBe(`${sim.url}/b1s/v1/$metadata#Items`);
    expect(body.value).toEqual(all.slice(0, 20));
    expect(body["odata.nextLink"]).toBe("/b1s/v1/Items?$skip=20");
  });

  it("projects with $select and refuses an unknown property", async () => {
    const body = await getJson("Items?$select=ItemCode,UpdateDate,ItemName&$top=3", cookie);
    expect(body.value).toEqual(all.slice(0, 3).map((item) => ({ ItemCode: item.ItemCode, ItemName: item.ItemName, UpdateDate: item.UpdateDate })));
    expect(await expectSlError(await get("Items?$select=ItemCode,Nope", cookie), 400, -1000)).toContain("Nope");
    await expectSlError(await get("Items?$select=ItemCode,", cookie), 400, -1000);
  });

  it("filters with each comparison operator on text and numbers", async () => {
    const pivot = all[100] as SapItem;
    const cases: Array<[string, (item: SapItem) => boolean]> = [
      [`ItemCode eq '${pivot.ItemCode}'`, (i) => i.ItemCode === pivot.ItemCode],
      [`ItemCode ne '${pivot.ItemCode}'`, (i) => i.ItemCode !== pivot.ItemCode],
      [`ItemCode gt '${pivot.ItemCode}'`, (i) => i.ItemCode > pivot.ItemCode],
      [`ItemCode ge '${pivot.ItemCode}'`, (i) => i.ItemCode >= pivot.ItemCode],
      [`ItemCode lt '${pivot.ItemCode}'`, (i) => i.ItemCode < pivot.ItemCode],
      [`ItemCode le '${pivot.ItemCode}'`, (i) => i.ItemCode <= pivot.ItemCode],
      ["QuantityOnStock eq 0", (i) => i.QuantityOnStock === 0],
      ["QuantityOnStock gt 250", (i) => i.QuantityOnStock > 250],
      ["QuantityOnStock le 10.5", (i) => i.QuantityOnStock <= 10.5],
      ["ItemsGroupCode ne 100", (i) => i.ItemsGroupCode !== 100],
      ["Valid eq 'tNO'", (i) => i.Valid === "tNO"],
      ["ForeignName eq null", (i) => i.ForeignName === null],
      ["BarCode ne null", (i) => i.BarCode !== null],
    ];
    for (const [filter, predicate] of cases) {
      const expected = codes(all.filter(predicate));
      expect(expected.length, filter).toBeGreaterThan(0);
      expect(await codesWhere(filter, cookie), filter).toEqual(expected);
    }
  });

  it("combines with and, or, not and parentheses, with not binding looser than a comparison", async () => {
    const cases: Array<[string, (item: SapItem) => boolean]> = [
      [
        "(ItemsGroupCode eq 100 or ItemsGroupCode eq 101) and not (QuantityOnStock eq 0)",
        (i) => (i.ItemsGroupCode === 100 || i.ItemsGroupCode === 101) && i.QuantityOnStock !== 0,
      ],
      ["ItemsGroupCode eq 100 or ItemsGroupCode eq 101 and QuantityOnStock eq 0", (i) => i.ItemsGroupCode === 100 || (i.ItemsGroupCode === 101 && i.QuantityOnStock === 0)],
      ["not Valid eq 'tYES'", (i) => i.Valid !== "tYES"],
      ["not (not (Frozen eq 'tNO'))", (i) => i.Frozen === "tNO"],
      ["((QuantityOnStock ge 100)) and ((QuantityOnStock lt 200))", (i) => i.QuantityOnStock >= 100 && i.QuantityOnStock < 200],
    ];
    for (const [filter, predicate] of cases) {
      expect(await codesWhere(filter, cookie), filter).toEqual(codes(all.filter(predicate)));
    }
  });

  it("filters with startswith, endswith, contains and substringof, and '' inside quotes", async () => {
    const withQuote = all.find((item) => item.ItemName.includes("'"));
    expect(withQuote).toBeDefined();
    const cases: Array<[string, (item: SapItem) => boolean]> = [
      ["startswith(ItemCode,'B')", (i) => i.ItemCode.startsWith("B")],
      ["startswith(ItemCode, 'A0001') eq true", (i) => i.ItemCode.startsWith("A0001")],
      ["endswith(ItemName,'negru')", (i) => i.ItemName.endsWith("negru")],
      ["contains(ItemName,'LED')", (i) => i.ItemName.includes("LED")],
      ["substringof('LED',ItemName)", (i) => i.ItemName.includes("LED")],
      ["contains(ItemName,'Kid''s') or contains(ItemName,'O''Neill')", (i) => i.ItemName.includes("Kid's") || i.ItemName.includes("O'Neill")],
      ["not startswith(ItemCode,'A')", (i) => !i.ItemCode.startsWith("A")],
      ["contains(ForeignName,'cable')", (i) => i.ForeignName !== null && i.ForeignName.includes("cable")],
    ];
    for (const [filter, predicate] of cases) {
      const expected = codes(all.filter(predicate));
      expect(expected.length, filter).toBeGreaterThan(0);
      expect(await codesWhere(filter, cookie), filter).toEqual(expected);
    }
  });

  it("compares dates by day in the three documented forms, ignoring a time part", async () => {
    const days = all.map((item) => item.UpdateDate).sort();
    const day = days[Math.floor(days.length / 2)] as string;
    const compact = day.replace(/-/g, "");
    const onOrAfter = codes(all.filter((item) => item.UpdateDate >= day));
    for (const literal of [`'${day}'`, `'${compact}'`, `datetime'${day}'`, `datetime'${day}T23:59:59'`, `'${day}T18:30:00'`]) {
      expect(await codesWhere(`UpdateDate ge ${literal}`, cookie), literal).toEqual(onOrAfter);
    }
    const sameDay = codes(all.filter((item) => item.UpdateDate === day));
    expect(await codesWhere(`UpdateDate eq datetime'${day}T10:00:00'`, cookie)).toEqual(sameDay);
    expect(await codesWhere(`UpdateDate lt '${compact}'`, cookie)).toEqual(codes(all.filter((item) => item.UpdateDate < day)));
    expect(await codesWhere("CreateDate le UpdateDate", cookie)).toEqual(codes(all));
  });

  it("answers a malformed filter with 400 code -1000 saying what is wrong", async () => {
    const deep = `${"(".repeat(200)}ItemCode eq 'A'${")".repeat(200)}`;
    const malformed = [
      "ItemCode eq",
      "ItemCode eq 'A",
      "(ItemCode eq 'A'",
      "ItemCode eq 'A')",
      "Nope eq 1",
      "QuantityOnStock eq 'x'",
      "ItemCode eq 5",
      "UpdateDate ge '2025-13-45'",
      "UpdateDate ge '2025-0401'",
      "UpdateDate ge 'yesterday'",
      "ItemName ge datetime'2025-01-01'",
      "ItemCode eq 'A' and",
      "startswith(ItemCode)",
      "ItemCode EQ 'A'",
      "ItemCode eq 'A' ItemName",
      "ItemCode",
      "ItemPrices eq 1",
      "tolower(ItemCode) eq 'a'",
      "ItemCode eq 'A' # 1",
      "QuantityOnStock gt null",
      "",
      deep,
    ];
    for (const filter of malformed) {
      const response = await get(`Items?$filter=${encodeURIComponent(filter)}`, cookie);
      const message = await expectSlError(response, 400, -1000);
      expect(message.length, filter).toBeGreaterThan(5);
    }
    const message = await expectSlError(await get(`Items?$filter=${encodeURIComponent("QuantityOnStock eq 'x'")}`, cookie), 400, -1000);
    expect(message).toMatch(/compare/);
    await expectSlError(await get("Items?$filter=ItemCode%20eq%20%ZZ", cookie), 400, -1000);
  });

  it("orders by one or more properties, ascending or descending", async () => {
    const body = await getJson("Items?$select=ItemCode,QuantityOnStock&$orderby=QuantityOnStock desc,ItemCode asc", cookie, { "B1S-PageSize": "0" });
    const expected = [...all].sort((a, b) => b.QuantityOnStock - a.QuantityOnStock || (a.ItemCode < b.ItemCode ? -1 : 1));
    expect(body.value.map((item) => item.ItemCode)).toEqual(codes(expected));
    const descending = await getJson("Items?$select=ItemCode&$orderby=ItemCode desc&$top=5", cookie);
    expect(descending.value.map((item) => item.ItemCode)).toEqual(codes(all).reverse().slice(0, 5));
    const byDate = await getJson("Items?$select=ItemCode,UpdateDate&$orderby=UpdateDate&$top=20", cookie);
    expect(byDate.value.map((item) => item.UpdateDate)).toEqual(all.map((item) => item.UpdateDate).sort().slice(0, 20));
    await expectSlError(await get("Items?$orderby=ItemCode sideways", cookie), 400, -1000);
    await expectSlError(await get("Items?$orderby=Nope", cookie), 400, -1000);
  });

  it("applies $skip before $top whatever their order in the URL", async () => {
    const expected = codes(all).slice(10, 15);
    for (const query of ["$top=5&$skip=10", "$skip=10&$top=5"]) {
      const body = await getJson(`Items?$select=ItemCode&$orderby=ItemCode&${query}`, cookie);
      expect(body.value.map((item) => item.ItemCode), query).toEqual(expected);
      expect(body["odata.nextLink"]).toBeUndefined();
    }
    const none = await getJson("Items?$top=0", cookie);
    expect(none.value).toEqual([]);
    const past = await getJson(`Items?$skip=${ITEMS + 5}`, cookie);
    expect(past.value).toEqual([]);
    expect(past["odata.nextLink"]).toBeUndefined();
    await expectSlError(await get("Items?$top=-1", cookie), 400, -1000);
    await expectSlError(await get("Items?$skip=abc", cookie), 400, -1000);
    await expectSlError(await get("Items?$top=1&$top=2", cookie), 400, -1000);
    await expectSlError(await get("Items?$expand=ItemPrices", cookie), 400, -1000);
  });

  it("reports $inlinecount=allpages as a string and refuses other values", async () => {
    const body = await getJson("Items?$inlinecount=allpages&$filter=startswith(ItemCode,'A')&$top=1", cookie);
    expect(body["odata.count"]).toBe(String(all.filter((item) => item.ItemCode.startsWith("A")).length));
    const none = await getJson("Items?$inlinecount=none&$top=1", cookie);
    expect(none["odata.count"]).toBeUndefined();
    await expectSlError(await get("Items?$inlinecount=yes", cookie), 400, -1000);
    await expectSlError(await get("Items?$count=true", cookie), 400, -1000);
  });

  it("serves one item by key, or 404 code -2028", async () => {
    const first = all[0] as SapItem;
    expect(first.ItemCode).toBe("A000001");
    const body = await getJson<Record<string, unknown>>("Items('A000001')", cookie);
    expect(body).toEqual({ "odata.metadata": `${sim.url}/b1s/v1/$metadata#Items/@Element`, ...first });
    const selected = await getJson<Record<string, unknown>>("Items('A000001')?$select=ItemName", cookie);
    expect(selected).toEqual({ "odata.metadata": expect.any(String), ItemName: first.ItemName });
    expect(await expectSlError(await get("Items('NOPE')", cookie), 404, -2028)).toBe("No matching records found (ODBC -2028)");
    expect(sim.requests().at(-1)?.route).toBe("Items('code')");
  });

  it("answers an unknown resource with 404 and a $metadata stub", async () => {
    await expectSlError(await get("Orders", cookie), 404, -1000);
    const metadata = await get("$metadata", cookie);
    expect(metadata.status).toBe(200);
    expect(await metadata.text()).toContain('Property Name="UpdateDate"');
  });
});

describe("server-driven paging", () => {
  let cookie: string;
  beforeEach(async () => {
    cookie = await login();
  });

  /** Follows nextLink from `first` to the end; the pages' sizes and the rows. */
  async function follow(first: string, headers: Record<string, string> = {}) {
    const sizes: number[] = [];
    const rows: Array<Partial<SapItem>> = [];
    let next: string | undefined = first;
    const links: string[] = [];
    while (next !== undefined) {
      const body: Collection = await getJson(next.startsWith("/") ? `${sim.url}${next}` : next, cookie, headers);
      sizes.push(body.value.length);
      rows.push(...body.value);
      next = body["odata.nextLink"];
      if (next !== undefined) links.push(next);
      expect(sizes.length).toBeLessThan(100);
    }
    return { sizes, rows, links };
  }

  it("follows nextLink to the end: every item exactly once with $orderby=ItemCode", async () => {
    const { sizes, rows, links } = await follow("Items?$select=ItemCode&$orderby=ItemCode");
    expect(sizes).toEqual([...Array<number>(11).fill(20), 10]);
    expect(rows.map((row) => row.ItemCode)).toEqual(codes(all));
    expect(links[0]).toBe("/b1s/v1/Items?$select=ItemCode&$orderby=ItemCode&$skip=20");
    expect(links.at(-1)).toBe("/b1s/v1/Items?$select=ItemCode&$orderby=ItemCode&$skip=220");
  });

  it("keeps the client's own encoding and the filter in nextLink", async () => {
    const filter = encodeURIComponent("startswith(ItemCode,'A') and QuantityOnStock ge 0");
    const first = `Items?%24select=ItemCode&%24skip=0&%24filter=${filter}`;
    const { rows, links } = await follow(first);
    expect(rows.map((row) => row.ItemCode)).toEqual(codes(all.filter((item) => item.ItemCode.startsWith("A"))));
    // As fetch sent it (the URL parser escapes the quotes), with $skip replaced where it stood.
    const sent = new URL(sl(first)).search.slice(1);
    expect(links[0]).toBe(`/b1s/v1/Items?${sent.replace("%24skip=0", "$skip=20")}`);
  });

  it("takes the page size from Prefer (echoed in Preference-Applied) or B1S-PageSize, capped at maxPageSize", async () => {
    const preferred = await get("Items?$select=ItemCode", cookie, { Prefer: "odata.maxpagesize=50" });
    expect(preferred.headers.get("preference-applied")).toBe("odata.maxpagesize=50");
    expect(((await preferred.json()) as Collection).value).toHaveLength(50);
    const b1s = await get("Items?$select=ItemCode", cookie, { "B1S-PageSize": "30" });
    expect(b1s.headers.get("preference-applied")).toBeNull();
    const body = (await b1s.json()) as Collection;
    expect(body.value).toHaveLength(30);
    expect(body["odata.nextLink"]).toBe("/b1s/v1/Items?$select=ItemCode&$skip=30");
    sim.configure({ maxPageSize: 100, defaultPageSize: 7 });
    const capped = await get("Items?$select=ItemCode", cookie, { Prefer: "return=minimal, odata.maxpagesize=500" });
    expect(capped.headers.get("preference-applied")).toBe("odata.maxpagesize=100");
    expect(((await capped.json()) as Collection).value).toHaveLength(100);
    expect((await getJson("Items", cookie)).value).toHaveLength(7);
    const unpaged = await getJson("Items?$select=ItemCode", cookie, { "B1S-PageSize": "0" });
    expect(unpaged.value).toHaveLength(ITEMS);
    expect(unpaged["odata.nextLink"]).toBeUndefined();
    await expectSlError(await get("Items", cookie, { "B1S-PageSize": "lots" }), 400, -1000);
  });

  it("gives a full last page no nextLink", async () => {
    const { sizes } = await follow("Items?$select=ItemCode&$orderby=ItemCode", { "B1S-PageSize": "23" });
    expect(sizes).toEqual(Array<number>(10).fill(23));
  });

  it("stops at $top: no nextLink once $top is used up, and what is left of it in the link", async () => {
    const exact = await getJson("Items?$select=ItemCode&$orderby=ItemCode&$top=20", cookie);
    expect(exact.value).toHaveLength(20);
    expect(exact["odata.nextLink"]).toBeUndefined();
    const { sizes, rows, links } = await follow("Items?$select=ItemCode&$orderby=ItemCode&$top=45&$skip=5");
    expect(sizes).toEqual([20, 20, 5]);
    expect(links).toEqual([
      "/b1s/v1/Items?$select=ItemCode&$orderby=ItemCode&$top=25&$skip=25",
      "/b1s/v1/Items?$select=ItemCode&$orderby=ItemCode&$top=5&$skip=45",
    ]);
    expect(rows.map((row) => row.ItemCode)).toEqual(codes(all).slice(5, 50));
  });

  it("emits relative links with nextLinkStyle relative and loses $filter with drops-filter", async () => {
    sim.configure({ nextLinkStyle: "relative" });
    const relative = await getJson("Items?$select=ItemCode", cookie);
    expect(relative["odata.nextLink"]).toBe("Items?$select=ItemCode&$skip=20");
    sim.configure({ nextLinkStyle: "drops-filter" });
    const filter = encodeURIComponent("startswith(ItemCode,'A')");
    const dropped = await getJson(`Items?$select=ItemCode&$filter=${filter}&$orderby=ItemCode`, cookie);
    expect(dropped["odata.nextLink"]).toBe("/b1s/v1/Items?$select=ItemCode&$orderby=ItemCode&$skip=20");
  });

  it("uses OData v4 names with odataVersion 2", async () => {
    sim.configure({ odataVersion: 2 });
    const response = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    const session = (await response.json()) as Record<string, unknown>;
    expect(session["@odata.context"]).toBe(`${sim.url}/b1s/v1/$metadata#B1Sessions/$entity`);
    expect(session["odata.metadata"]).toBeUndefined();
    const body = await getJson("Items?$select=ItemCode&$count=true", cookiesOf(response));
    expect(body["@odata.context"]).toBe(`${sim.url}/b1s/v1/$metadata#Items`);
    expect(body["@odata.count"]).toBe(ITEMS);
    expect(body["@odata.nextLink"]).toBe("/b1s/v1/Items?$select=ItemCode&$count=true&$skip=20");
    expect(body["odata.nextLink"]).toBeUndefined();
    expect(body["odata.count"]).toBeUndefined();
    await expectSlError(await get("Items?$inlinecount=allpages", cookie), 400, -1000);
    const v2 = await getJson(`${sim.url}/b1s/v2/Items?$top=1`, cookie);
    expect(v2["@odata.context"]).toBe(`${sim.url}/b1s/v2/$metadata#Items`);
  });

  it("orders rows by insertion, or differently on every request, without $orderby when told to", async () => {
    sim.configure({ defaultOrder: "insertion" });
    const inserted = (await getJson("Items?$select=ItemCode", cookie, { "B1S-PageSize": "0" })).value.map((row) => row.ItemCode);
    expect([...inserted].sort()).toEqual(codes(all));
    expect(inserted).not.toEqual(codes(all));
    sim.configure({ defaultOrder: "unstable-when-no-orderby" });
    const one = (await getJson("Items?$select=ItemCode&$top=20", cookie)).value;
    const two = (await getJson("Items?$select=ItemCode&$top=20", cookie)).value;
    expect(one).not.toEqual(two);
    const ordered = (await getJson("Items?$select=ItemCode&$orderby=ItemCode&$top=20", cookie)).value;
    expect(ordered.map((row) => row.ItemCode)).toEqual(codes(all).slice(0, 20));
  });
});

describe("Items/$count", () => {
  it("answers a plain-text integer, filtered, or garbage with countGarbage", async () => {
    const cookie = await login();
    const plain = await get("Items/$count", cookie);
    expect(plain.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await plain.text()).toBe(String(ITEMS));
    const filtered = await get(`Items/$count?$filter=${encodeURIComponent("QuantityOnStock eq 0")}`, cookie);
    expect(await filtered.text()).toBe(String(all.filter((item) => item.QuantityOnStock === 0).length));
    expect(await (await get("Items/%24count", cookie)).text()).toBe(String(ITEMS));
    await expectSlError(await get("Items/$count?$filter=Nope%20eq%201", cookie), 400, -1000);
    sim.configure({ countGarbage: "empty" });
    const empty = await get("Items/$count", cookie);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe("");
    sim.configure({ countGarbage: "html" });
    const html = await get("Items/$count", cookie);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
  });
});

describe("gateway faults", () => {
  let cookie: string;
  beforeEach(async () => {
    cookie = await login();
  });

  it("answers scripted faults in order: Apache's HTML Proxy Error twice, then success", async () => {
    sim.addFaults([{ route: "Items", times: 2, respond: { kind: "proxy502" } }]);
    for (let i = 0; i < 2; i++) {
      const response = await get("Items?$top=1", cookie);
      expect(response.status).toBe(502);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      const page = await response.text();
      expect(page).toContain("<title>502 Proxy Error</title>");
      expect(page).toContain("GET&nbsp;/b1s/v1/Items");
    }
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    expect(sim.requests().filter((record) => record.route === "Items").map((record) => record.status)).toEqual([502, 502, 200]);
  });

  it("matches a fault on $skip and route; the first matching fault wins", async () => {
    sim.addFaults([
      { route: "Items", skip: 20, times: 1, respond: { kind: "503" } },
      { route: "Items", skip: 20, times: 1, respond: { kind: "504" } },
      { route: "Items/$count", times: 1, respond: { kind: "json500" } },
      { route: "Login", times: 1, respond: { kind: "empty500" } },
    ]);
    expect((await get("Items?$top=20", cookie)).status).toBe(200);
    const unavailable = await get("Items?$top=20&$skip=20", cookie);
    expect(unavailable.status).toBe(503);
    expect(await unavailable.text()).toContain("Service Unavailable");
    const timeout = await get("Items?$top=20&$skip=20", cookie);
    expect(timeout.status).toBe(504);
    expect(await timeout.text()).toContain("Gateway Timeout");
    expect((await get("Items?$top=20&$skip=20", cookie)).status).toBe(200);
    await expectSlError(await get("Items/$count", cookie), 500, -1);
    const emptyLogin = await postLogin({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" });
    expect(emptyLogin.status).toBe(500);
    expect(await emptyLogin.text()).toBe("");
    await login();
  });

  it("ends the session with an invalidSession fault", async () => {
    sim.addFaults([{ times: 1, respond: { kind: "invalidSession" } }]);
    await expectSlError(await get("Items", cookie), 401, 301);
    await expectSlError(await get("Items", cookie), 401, 301);
    expect(sim.sessionCount()).toBe(0);
  });

  it("hangs until the client gives up, then serves the next request", async () => {
    sim.addFaults([{ route: "Items", times: 1, respond: { kind: "hang" } }]);
    const started = performance.now();
    await expect(fetch(sl("Items?$top=1"), { headers: { cookie }, signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    await expect.poll(() => sim.requests()[1]?.latencyMs ?? 0).toBeGreaterThanOrEqual(150);
    expect(sim.requests()[1]?.status).toBe(0);
  });

  it("delays a slow fault and then answers normally", async () => {
    sim.addFaults([{ route: "Items", times: 1, respond: { kind: "slow", delayMs: 150 } }]);
    const started = performance.now();
    expect((await get("Items?$top=1", cookie)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("injects random errors from errors.kinds, the same ones for the same seed", async () => {
    // (cookie: logged in before the errors start, as Login gets them too)
    sim.configure({ errors: { probability: 0.5, kinds: ["503", "json500"] } });
    const run = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const response = await get("Items?$top=1", cookie);
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      return statuses;
    };
    const first = await run();
    expect(first).toContain(200);
    expect(first.some((status) => status === 503 || status === 500)).toBe(true);
    sim.reset();
    cookie = await login();
    sim.configure({ errors: { probability: 0.5, kinds: ["503", "json500"] } });
    expect(await run()).toEqual(first);
  });

  it("hangs at random with latency.hangProbability", async () => {
    sim.configure({ latency: { hangProbability: 1 } });
    await expect(fetch(sl("Items?$top=1"), { headers: { cookie }, signal: AbortSignal.timeout(150) })).rejects.toThrow();
  });
});

describe("data changing during a scan", () => {
  it("inserts before the last served code after each page: $skip paging then sees a duplicate", async () => {
    sim.configure({ mutation: { perRequest: [{ op: "insert", count: 1, probability: 1 }] } });
    const cookie = await login();
    const seen: string[] = [];
    for (let k = 0; k < 5; k++) {
      const body = await getJson(`Items?$select=ItemCode&$orderby=ItemCode&$top=20&$skip=${k * 20}`, cookie);
      seen.push(...body.value.map((row) => row.ItemCode as string));
    }
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBeLessThan(100);
    // Each insert shifted the next page by one: its first row is the previous page's last.
    expect(seen[20]).toBe(seen[19]);
    const now = sim.items("SBODEMO");
    expect(now).toHaveLength(ITEMS + 5);
    const added = now.filter((item) => !all.some((old) => old.ItemCode === item.ItemCode));
    expect(added).toHaveLength(5);
    expect(codes(now)).toEqual([...codes(now)].sort());
  });

  it("applies mutate() now: insert before a code, delete, rename and touch", async () => {
    const before = "A000100";
    sim.mutate("SBODEMO", [{ op: "insert", count: 5, before }]);
    let now = sim.items("SBODEMO");
    const added = now.filter((item) => !all.some((old) => old.ItemCode === item.ItemCode));
    expect(added).toHaveLength(5);
    for (const item of added) expect(item.ItemCode < before).toBe(true);
    sim.mutate("SBODEMO", [{ op: "delete", count: 3 }]);
    now = sim.items("SBODEMO");
    expect(now).toHaveLength(ITEMS + 2);
    const latest = now.map((item) => item.UpdateDate).sort().at(-1) as string;
    sim.advanceClock(3 * 86_400_000);
    sim.mutate("SBODEMO", [
      { op: "rename", count: 4 },
      { op: "touch", count: 4 },
    ]);
    const touched = sim.items("SBODEMO").filter((item) => item.UpdateDate > latest);
    expect(touched.length).toBeGreaterThanOrEqual(1);
    for (const item of touched) expect(item.UpdateDate).toBe(touched[0]?.UpdateDate);
    const renamed = sim.items("SBODEMO").filter((item) => {
      const old = all.find((o) => o.ItemCode === item.ItemCode);
      return old !== undefined && old.ItemName !== item.ItemName;
    });
    expect(renamed.length).toBeGreaterThanOrEqual(1);
    for (const item of renamed) expect(item.UpdateDate > latest).toBe(true);
    expect(() => sim.mutate("NOPE", [{ op: "touch", count: 1 }])).toThrow(/NOPE/);
  });
});

describe("latency", () => {
  it("applies baseMs to each request concurrently, not one after the other", async () => {
    sim.configure({ latency: { baseMs: 100 } });
    const cookie = await login();
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 5 }, (_, k) => get(`Items?$top=20&$skip=${k * 20}`, cookie)));
    const elapsed = performance.now() - started;
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(400);
    for (const record of sim.requests().filter((r) => r.route === "Items")) expect(record.latencyMs).toBeGreaterThanOrEqual(95);
  });

  it("queues a session's requests with perSessionConcurrency 1", async () => {
    sim.configure({ latency: { baseMs: 100 }, perSessionConcurrency: 1 });
    const cookie = await login();
    const other = await login();
    const started = performance.now();
    await Promise.all([get("Items?$top=1", cookie), get("Items?$top=1", cookie), get("Items?$top=1", cookie), get("Items?$top=1", other)]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    // The other session did not wait behind the first one's queue.
    const otherRecord = sim.requests().find((record) => record.route === "Items" && other.includes(record.session ?? "-"));
    expect(otherRecord?.latencyMs).toBeLessThan(250);
  });

  it("adds perRowMs per row served", async () => {
    sim.configure({ latency: { perRowMs: 5 } });
    const cookie = await login();
    const started = performance.now();
    await getJson("Items?$top=30", cookie, { "B1S-PageSize": "30" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe("determinism", () => {
  it("generates the same data for the same seed, other data for another, dated from the seed not today", async () => {
    const a = await startSapSimulator({ seed: 42, companies: [{ companyDb: "X", users: [], items: 300 }] });
    const b = await startSapSimulator({ seed: 42, companies: [{ companyDb: "X", users: [], items: 300 }] });
    const c = await startSapSimulator({ seed: 43, companies: [{ companyDb: "X", users: [], items: 300 }] });
    try {
      expect(a.items("X")).toEqual(b.items("X"));
      expect(a.items("X")).not.toEqual(c.items("X"));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("makes well-formed items: sorted unique codes, dates within a year, CreateDate <= UpdateDate, 4-decimal RON prices", () => {
    const itemCodes = codes(all);
    expect(new Set(itemCodes).size).toBe(ITEMS);
    expect(itemCodes).toEqual([...itemCodes].sort());
    for (const code of itemCodes) expect(code).toMatch(/^(A\d{6}|B\d{6}|SRV\d{4})$/);
    const days = all.map((item) => Date.parse(item.UpdateDate));
    expect(Math.max(...days) - Math.min(...days)).toBeLessThan(365 * 86_400_000);
    for (const item of all) {
      expect(item.CreateDate <= item.UpdateDate).toBe(true);
      expect(item.UpdateTime).toMatch(/^\d{2}:\d{2}:\d{2}$/);
      expect(item.ItemPrices).toHaveLength(1);
      expect(item.ItemPrices[0]).toMatchObject({ PriceList: 1, Currency: "RON" });
      const price = item.ItemPrices[0]?.Price as number;
      expect(Math.round(price * 10_000) / 10_000).toBe(price);
      expect(["tYES", "tNO"]).toContain(item.Valid);
    }
    // Not every code in a row: gaps leave room for inserts.
    expect(Number(itemCodes.filter((code) => code.startsWith("A")).at(-1)?.slice(1))).toBeGreaterThan(itemCodes.filter((code) => code.startsWith("A")).length);
  });

  it("seeds 20,000 items quickly, and reset() returns to the start", () => {
    const started = performance.now();
    sim.seed(5, [{ companyDb: "BIG", users: [{ name: "u", password: "p" }], items: 20_000 }]);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(sim.items("BIG")).toHaveLength(20_000);
    expect(() => sim.items("SBODEMO")).toThrow();
    sim.reset();
    expect(sim.items("SBODEMO")).toEqual(all);
  });
});

describe("control API", () => {
  const control = (route: string, body?: unknown) =>
    fetch(`${sim.url}/__sim/${route}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

  it("reads and patches the config, refusing bad values and unknown keys by name", async () => {
    const initial = (await (await control("config")).json()) as { config: { latency: { baseMs: number; jitterMs: number }; defaultPageSize: number } };
    expect(initial.config.defaultPageSize).toBe(20);
    const patched = await control("config", { latency: { baseMs: 5 }, defaultPageSize: 7 });
    expect(patched.status).toBe(200);
    const { config } = (await patched.json()) as typeof initial;
    expect(config.latency).toMatchObject({ baseMs: 5, jitterMs: 0 });
    expect(config.defaultPageSize).toBe(7);
    const bad = await control("config", { nodes: "two" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain("nodes");
    const unknown = await control("config", { latency: { warp: 1 } });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toContain("warp");
    expect((await control("config", "{oops")).status).toBe(400);
    expect((await control("config", "[1]")).status).toBe(400);
    expect(() => sim.configure({ odataVersion: 3 as 1 })).toThrow(/odataVersion/);
  });

  it("drives faults, clock, sessions, requests, items, mutate, seed and reset over HTTP", async () => {
    expect(await (await control("health")).json()).toEqual({ ok: true });
    const cookie = await login();
    expect(await (await control("sessions")).json()).toEqual({ count: 1 });
    const faults = await control("faults", { faults: [{ route: "Items", times: 1, respond: { kind: "503" } }] });
    expect(faults.status).toBe(200);
    expect((await get("Items", cookie)).status).toBe(503);
    expect((await control("faults", { faults: [{ route: "Orders", times: 1, respond: { kind: "503" } }] })).status).toBe(400);
    expect((await control("clock", { advanceMs: 31 * 60_000 })).status).toBe(200);
    expect(await (await control("sessions")).json()).toEqual({ count: 0 });
    expect((await control("clock", { advanceMs: -1 })).status).toBe(400);
    await login();
    expect(await (await control("expire-sessions", {})).json()).toEqual({ expired: 1 });
    const { requests } = (await (await control("requests")).json()) as { requests: Array<{ route: string; status: number }> };
    expect(requests.map((record) => [record.route, record.status])).toEqual([
      ["Login", 200],
      ["Items", 503],
      ["Login", 200],
    ]);
    const items = (await (await control("items?company=SBODEMO")).json()) as { items: SapItem[] };
    expect(items.items).toEqual(all);
    expect((await control("items?company=NOPE")).status).toBe(404);
    expect((await control("items")).status).toBe(400);
    const mutate = await control("mutate", { companyDb: "SBODEMO", ops: [{ op: "insert", count: 2 }] });
    expect(await mutate.json()).toEqual({ ok: true, items: ITEMS + 2 });
    expect((await control("mutate", { companyDb: "SBODEMO", ops: [{ op: "explode", count: 2 }] })).status).toBe(400);
    const seeded = await control("seed", { seed: 9, companies: [{ companyDb: "NEW", users: [{ name: "a", password: "b" }], items: 12 }] });
    expect(await seeded.json()).toEqual({ ok: true, companies: ["NEW"] });
    expect(sim.items("NEW")).toHaveLength(12);
    expect((await control("seed", { seed: "nine" })).status).toBe(400);
    expect((await control("reset", {})).status).toBe(200);
    expect(sim.items("SBODEMO")).toEqual(all);
    expect(sim.requests()).toEqual([]);
  });

  it("answers unknown routes 404, wrong methods 405 and bodies over 1 MB 413", async () => {
    expect((await control("nope")).status).toBe(404);
    expect((await control("__proto__")).status).toBe(404);
    expect((await control("reset")).status).toBe(405);
    const huge = await control("config", { padding: "x".repeat(1_500_000) });
    expect(huge.status).toBe(413);
    expect((await fetch(`${sim.url}/elsewhere`)).status).toBe(404);
    expect((await control("health")).status).toBe(200);
  });
});
