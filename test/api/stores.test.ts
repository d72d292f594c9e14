import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as listStores } from "../../api/stores/index.js";
import { stores } from "../../lib/db/schema.js";
import { GET as cronOnly } from "../fixtures/routes/api/cron-only.js";
import { API_TOKEN, CRON_SECRET, installTestRuntime, OTHER_API_TOKEN } from "../support/runtime.js";

let dispose: () => Promise<void>;
let runtime: ReturnType<typeof installTestRuntime>["runtime"];

beforeAll(async () => {
  ({ dispose, runtime } = installTestRuntime());
  const { db } = await runtime.database();
  await db.insert(stores).values([
    { name: "MR eStore Shopee", channel: "Shopee" },
    { name: "Apex Tokopedia", channel: "Tokopedia" },
  ]);
});
afterAll(() => dispose());

const call = (handler: (r: Request) => Promise<Response>, authorization?: string) =>
  handler(new Request("http://localhost/api/x", { headers: authorization === undefined ? {} : { authorization } }));

const lastCharChanged = (token: string) => `${token.slice(0, -1)}${token.endsWith("f") ? "e" : "f"}`;

describe("GET /api/stores", () => {
  it.each([
    ["no Authorization header", undefined],
    ["an empty bearer", "Bearer "],
    ["a wrong token", "Bearer not-the-right-token-at-all"],
    ["a token that differs in its last character", `Bearer ${lastCharChanged(API_TOKEN)}`],
    ["a token with a suffix", `Bearer ${API_TOKEN}x`],
    ["a prefix of the token", `Bearer ${API_TOKEN.slice(0, -1)}`],
    ["a Basic header", `Basic ${Buffer.from(`user:${API_TOKEN}`).toString("base64")}`],
    ["the token without a scheme", API_TOKEN],
    ["the cron secret", `Bearer ${CRON_SECRET}`],
  ])("answers 401 for %s", async (_case, authorization) => {
    const response = await call(listStores, authorization);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    const body = (await response.json()) as { error: { code: string }; stores?: unknown };
    expect(body.error.code).toBe("unauthorized");
    expect(body.stores).toBeUndefined();
  });

  it("answers 200 with every store for a valid token, and for the rotated one", async () => {
    for (const token of [API_TOKEN, OTHER_API_TOKEN]) {
      const response = await call(listStores, `Bearer ${token}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { stores: { id: number; name: string; channel: string }[] };
      expect(body.stores.map(({ name, channel }) => ({ name, channel }))).toEqual([
        { name: "Apex Tokopedia", channel: "Tokopedia" },
        { name: "MR eStore Shopee", channel: "Shopee" },
      ]);
      expect(body.stores.every((store) => Number.isInteger(store.id))).toBe(true);
    }
  });

  it("accepts the scheme in any case", async () => {
    expect((await call(listStores, `bearer ${API_TOKEN}`)).status).toBe(200);
  });
});

describe("cron routes", () => {
  it("accept only Bearer $CRON_SECRET", async () => {
    expect((await call(cronOnly, `Bearer ${CRON_SECRET}`)).status).toBe(200);
    for (const authorization of [undefined, `Bearer ${API_TOKEN}`, `Bearer ${lastCharChanged(CRON_SECRET)}`]) {
      expect((await call(cronOnly, authorization)).status).toBe(401);
    }
  });
});
