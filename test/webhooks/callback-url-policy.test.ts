/**
 * The production address policy of callback URLs (issue 9, defect 6): every
 * special-purpose range refused, IPv4 embedded in IPv6 decoded, and the delivery's
 * connection pinned to the addresses that were checked, so DNS rebinding between the
 * check and the connection reaches nothing.
 */
import type { LookupAddress } from "node:dns";
import { createServer, type Server } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../lib/db/client.js";
import type { JobEngine } from "../../lib/jobs/engine.js";
import { logger } from "../../lib/log/index.js";
import { checkCallbackUrl, type ResolveHost } from "../../lib/webhooks/callback-url.js";
import { checkedLookup } from "../../lib/webhooks/checked-lookup.js";
import { deliverWebhook } from "../../lib/webhooks/deliver.js";
import { embeddedIPv4 } from "../../lib/webhooks/embedded-ipv4.js";
import { isForbiddenAddress } from "../../lib/webhooks/special-addresses.js";
import { runWebhookTask } from "../../lib/webhooks/task.js";

const SECRET = "whsec-test-0123456789abcdefghij";
const BODY = JSON.stringify({ event: "import.finished", id: "0190", status: "completed" });
const PUBLIC_V4 = "93.184.215.14";
const PUBLIC_V6 = "2606:4700::1111";

interface Refusal {
  status: number;
  code: string;
  fields: Array<{ field: string }>;
}

/** The 400 naming callback_url that `promise` fails with, or null when it succeeds. */
async function refusalOf(promise: Promise<unknown>): Promise<Refusal | null> {
  return promise.then(
    () => null,
    (caught: unknown) => caught as Refusal,
  );
}

function expectCallbackUrlRefusal(refusal: Refusal | null, label: string): void {
  expect(refusal, label).not.toBeNull();
  expect(refusal?.status, label).toBe(400);
  expect(refusal?.code, label).toBe("validation_failed");
  expect(refusal?.fields.map((f) => f.field), label).toEqual(["callback_url"]);
}

/** A resolver that answers each call with the next answer (the last one repeats), counting calls. */
function scriptedResolver(...answers: string[][]): ResolveHost & { calls: string[] } {
  const calls: string[] = [];
  const resolve = (hostname: string): Promise<string[]> => {
    calls.push(hostname);
    return Promise.resolve(answers[Math.min(calls.length, answers.length) - 1] ?? []);
  };
  return Object.assign(resolve, { calls });
}

describe("callback_url in production: special-purpose and transition addresses", () => {
  const production = { production: true, resolve: scriptedResolver([PUBLIC_V4]) };

  it("refuses, with a 400 naming callback_url, every special-purpose range the README lists", async () => {
    for (const host of [
      // NAT64 (well-known and local-use, both layouts), 6to4 and Teredo embedding the
      // metadata service or loopback.
      "[64:ff9b::a9fe:a9fe]",
      "[64:ff9b::7f00:1]",
      "[64:ff9b:1::a9fe:a9fe]",
      "[64:ff9b:1:a9fe:a9:fe00::]",
      "[2002:a9fe:a9fe::1]",
      "[2002:7f00:1::1]",
      "[2001:0:4136:e378:8000:63bf:5601:5601]", // Teredo client 169.254.169.254 (inverted)
      "[2001:0:4136:e378:8000:63bf:80ff:fffe]", // Teredo client 127.0.0.1 (inverted)
      "[2001:0:a9fe:a9fe::1]", // Teredo server 169.254.169.254
      "[::ffff:169.254.169.254]",
      "[::a9fe:a9fe]", // IPv4-compatible
      // A transition address is refused even when it embeds a public IPv4 address.
      "[2002:5db8:d70e::1]", // 6to4 of 93.184.215.14
      "[64:ff9b::5db8:d70e]",
      // Documentation, benchmarking, anycast services, reserved.
      "192.0.2.1",
      "198.51.100.1",
      "203.0.113.1",
      "192.0.0.8",
      "192.31.196.1",
      "192.52.193.1",
      "192.88.99.1",
      "192.175.48.1",
      "198.19.255.1",
      "240.0.0.1",
      "255.255.255.255",
      "[2001:db8::1]",
      "[3fff::1]",
      "[100::1]",
      "[fec0::1]",
      "[5f00::1]",
      "[2001:2::1]",
      "[2001:10::1]",
      "[2001:20::1]",
      "[2620:4f:8000::1]",
      "[ff02::1]",
      "[4000::1]", // outside global unicast 2000::/3
    ]) {
      expectCallbackUrlRefusal(await refusalOf(checkCallbackUrl(`https://${host}/hook`, production)), host);
    }
  });

  it("accepts public addresses, literal or resolved", async () => {
    for (const host of [PUBLIC_V4, `[${PUBLIC_V6}]`, "8.8.8.8", "172.32.0.1", "192.0.3.1", "198.20.0.1", "100.128.0.1", "[2001:200::1]", "[2a00:1450:4001::1]"]) {
      await expect(checkCallbackUrl(`https://${host}/hook`, production), host).resolves.toBe(`https://${host}/hook`);
    }
    const resolve = scriptedResolver([PUBLIC_V4, PUBLIC_V6]);
    await expect(checkCallbackUrl("https://hooks.example.com/x", { production: true, resolve })).resolves.toBe(
      "https://hooks.example.com/x",
    );
  });

  it("refuses a name that resolves to one public and one non-public address", async () => {
    for (const bad of ["192.0.2.7", "64:ff9b::a9fe:a9fe", "2001:db8::7", "fec0::1"]) {
      const resolve = scriptedResolver([PUBLIC_V4, bad]);
      expectCallbackUrlRefusal(await refusalOf(checkCallbackUrl("https://mixed.example.com/", { production: true, resolve })), bad);
    }
  });
});

describe("callback_url whose host the DNS cannot resolve right now", () => {
  it("is a 503 worth retrying (EAI_AGAIN), not a 400; a name that does not exist stays a 400", async () => {
    const failing = (code: string): ResolveHost => () => Promise.reject(Object.assign(new Error(code), { code }));
    const again = await refusalOf(checkCallbackUrl("https://hooks.example.com/x", { production: true, resolve: failing("EAI_AGAIN") }));
    expect(again).toMatchObject({ code: "service_unavailable", status: 503 });
    const missing = await refusalOf(checkCallbackUrl("https://hooks.example.com/x", { production: true, resolve: failing("ENOTFOUND") }));
    expect(missing).toMatchObject({ code: "validation_failed", status: 400 });
  });
});

describe("isForbiddenAddress", () => {
  it("classifies each address by its own family's rules (a BlockList would match IPv4 against ::ffff:0:0/96)", () => {
    for (const address of [PUBLIC_V4, "8.8.8.8", "1.1.1.1", PUBLIC_V6, "2a00:1450:4001::1"]) {
      expect(isForbiddenAddress(address), address).toBe(false);
    }
    for (const address of ["::", "::1", "0.0.0.0", "fe80::1%eth0", "not-an-address", "64:ff9b::808:808", "2002:808:808::1"]) {
      expect(isForbiddenAddress(address), address).toBe(true);
    }
  });
});

describe("embeddedIPv4", () => {
  it("decodes IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo", () => {
    expect(embeddedIPv4("::ffff:a9fe:a9fe")).toEqual(["169.254.169.254"]);
    expect(embeddedIPv4("::ffff:127.0.0.1")).toEqual(["127.0.0.1"]);
    expect(embeddedIPv4("::a9fe:a9fe")).toEqual(["169.254.169.254"]);
    expect(embeddedIPv4("64:ff9b::a9fe:a9fe")).toEqual(["169.254.169.254"]);
    // Local-use NAT64: each RFC 6052 layout (/48, /56, /64, /96) is a candidate.
    expect(embeddedIPv4("64:ff9b:1:a9fe:a9:fe00::")).toContain("169.254.169.254");
    expect(embeddedIPv4("64:ff9b:1:a9:fe:a9fe::")).toContain("169.254.169.254");
    expect(embeddedIPv4("64:ff9b:1:0:a9:fea9:fe00:0")).toContain("169.254.169.254");
    expect(embeddedIPv4("64:ff9b:1::a9fe:a9fe")).toContain("169.254.169.254");
    expect(embeddedIPv4("2002:a9fe:a9fe::1")).toEqual(["169.254.169.254"]);
    expect(embeddedIPv4("2001:0:4136:e378:8000:63bf:5601:5601")).toEqual(["65.54.227.120", "169.254.169.254"]);
    expect(embeddedIPv4("2001:0:4136:e378:8000:63bf:80ff:fffe")).toEqual(["65.54.227.120", "127.0.0.1"]);
    expect(embeddedIPv4(PUBLIC_V6)).toEqual([]);
    expect(embeddedIPv4(PUBLIC_V4)).toEqual([]);
  });
});

describe("checkedLookup", () => {
  const lookupWith = (lookup: LookupFunction, options: { all?: boolean; family?: number }) =>
    new Promise<{ error: Error | null; address: string | LookupAddress[]; family: number | undefined }>((resolve) => {
      lookup("hooks.example.com", options, (error, address, family) => resolve({ error, address, family }));
    });

  it("in production hands the connection exactly the addresses it resolved and checked, resolving once per lookup", async () => {
    const resolve = scriptedResolver([PUBLIC_V4, PUBLIC_V6]);
    const lookup = checkedLookup({ production: true, resolve });
    expect(await lookupWith(lookup, { all: true })).toEqual({
      error: null,
      address: [
        { address: PUBLIC_V4, family: 4 },
        { address: PUBLIC_V6, family: 6 },
      ],
      family: undefined,
    });
    expect(await lookupWith(lookup, { family: 6 })).toEqual({ error: null, address: PUBLIC_V6, family: 6 });
    expect(await lookupWith(lookup, {})).toEqual({ error: null, address: PUBLIC_V4, family: 4 });
    expect(resolve.calls).toEqual(["hooks.example.com", "hooks.example.com", "hooks.example.com"]);
  });

  it("in production fails the lookup with the refusal when any address is not public", async () => {
    const lookup = checkedLookup({ production: true, resolve: scriptedResolver([PUBLIC_V4, "169.254.169.254"]) });
    const { error } = await lookupWith(lookup, { all: true });
    expectCallbackUrlRefusal(error as unknown as Refusal, "public + metadata");
  });

  it("outside production applies no address policy", async () => {
    const lookup = checkedLookup({ production: false, resolve: scriptedResolver(["127.0.0.1"]) });
    expect(await lookupWith(lookup, {})).toEqual({ error: null, address: "127.0.0.1", family: 4 });
  });
});

describe("delivery: the connection goes to a checked address", () => {
  let server: Server;
  let port: number;
  let connections = 0;
  let requests: Array<{ host: string | undefined; path: string | undefined }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push({ host: request.headers.host, path: request.url });
      request.resume();
      response.writeHead(204).end();
    });
    // Counted per TCP connection: a refused delivery must not even connect.
    server.on("connection", () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => {
    connections = 0;
    requests = [];
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  const delivery = (url: string, production: boolean, resolve: ResolveHost) => ({
    url,
    event: "import.finished",
    body: BODY,
    secret: SECRET,
    deliveryId: "3f0c1d9e-8d0a-4e55-9a53-5d7b7f7b9a10",
    production,
    resolve,
    timeoutMs: 2_000,
  });

  it("DNS rebinding: public when the import is created, loopback at delivery: refused, nothing connects", async () => {
    const url = `https://rebind.example.test:${port}/hook`;
    const resolve = scriptedResolver([PUBLIC_V4], ["127.0.0.1"]);
    await expect(checkCallbackUrl(url, { production: true, resolve })).resolves.toBe(url);
    expectCallbackUrlRefusal(await refusalOf(deliverWebhook(delivery(url, true, resolve))), "rebound to 127.0.0.1");
    // One resolution at creation, one at delivery: the one checked is the only one used.
    expect(resolve.calls).toEqual(["rebind.example.test", "rebind.example.test"]);
    expect(connections).toBe(0);
  });

  it("refuses a host resolving to one public and one private address at delivery, and a private literal", async () => {
    const mixed = scriptedResolver([PUBLIC_V4, "127.0.0.1"]);
    expectCallbackUrlRefusal(
      await refusalOf(deliverWebhook(delivery(`https://mixed.example.test:${port}/hook`, true, mixed))),
      "public + loopback",
    );
    expectCallbackUrlRefusal(
      await refusalOf(deliverWebhook(delivery(`https://127.0.0.1:${port}/hook`, true, mixed))),
      "loopback literal",
    );
    expect(connections).toBe(0);
  });

  it("connects to the address the lookup returned, not to a second resolution of the name", async () => {
    // Outside production the same lookup runs without the policy: the injected
    // resolver's answer is where the request lands (the system resolver knows no
    // receiver.dropflow.test).
    const resolve = scriptedResolver(["127.0.0.1"]);
    const outcome = await deliverWebhook(delivery(`http://receiver.dropflow.test:${port}/hook`, false, resolve));
    expect(outcome.status).toBe(204);
    expect(requests).toEqual([{ host: `receiver.dropflow.test:${port}`, path: "/hook" }]);
    expect(resolve.calls).toEqual(["receiver.dropflow.test"]);
  });

  it("the webhook task treats a rebound receiver as refused (permanent), not as a failure to retry", async () => {
    const url = `https://task-rebind.example.test:${port}/hook`;
    const outcome = await runWebhookTask(
      {
        events: new Map([["test.rebinding", () => Promise.resolve({ url, body: { event: "test.rebinding" } })]]),
        db: {} as Database,
        engine: {} as JobEngine,
        secret: SECRET,
        production: true,
        resolve: scriptedResolver(["127.0.0.1"]),
        log: logger("webhooks-test"),
      },
      { event: "test.rebinding", job_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", delivery_id: "3f0c1d9e-8d0a-4e55-9a53-5d7b7f7b9a10" },
      { retried: 0 },
    );
    expect(outcome).toBe("refused");
    expect(connections).toBe(0);
  });
});
