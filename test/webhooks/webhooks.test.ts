/**
 * Webhook signatures and receivers: the signature as the README documents it,
 * checked with lib/webhooks/verify.ts (the receiver's code the README shows), the
 * callback-URL policy (SSRF), and one delivery attempt against a local receiver.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCallbackUrl } from "../../lib/webhooks/callback-url.js";
import { deliverWebhook } from "../../lib/webhooks/deliver.js";
import { signWebhook } from "../../lib/webhooks/sign.js";
import { isForbiddenAddress } from "../../lib/webhooks/special-addresses.js";
import { verifyWebhookSignature } from "../../lib/webhooks/verify.js";
import { type Destination, startDestination } from "../support/destination.js";

const SECRET = "whsec-test-0123456789abcdefghij";
const BODY = JSON.stringify({ event: "import.finished", id: "0190", status: "completed" });

describe("Dropflow-Signature", () => {
  it("is t=<unix seconds>,v1=<hex HMAC-SHA256 of `t.body`> and verifies with the documented algorithm", () => {
    const t = 1_795_000_000;
    const header = signWebhook(BODY, SECRET, t);
    const expected = createHmac("sha256", SECRET).update(`${t}.${BODY}`).digest("hex");
    expect(header).toBe(`t=${t},v1=${expected}`);
    expect(verifyWebhookSignature(header, BODY, SECRET, { nowSeconds: t + 10 })).toEqual({ valid: true, timestamp: t });
    // The raw bytes work as well as the text.
    expect(verifyWebhookSignature(header, Buffer.from(BODY), SECRET, { nowSeconds: t }).valid).toBe(true);
  });

  it("fails for a tampered body, another secret, an old or future timestamp, and a malformed header", () => {
    const t = 1_795_000_000;
    const header = signWebhook(BODY, SECRET, t);
    const at = { nowSeconds: t };
    expect(verifyWebhookSignature(header, BODY.replace("completed", "failed"), SECRET, at)).toEqual({
      valid: false,
      reason: "signature mismatch",
    });
    expect(verifyWebhookSignature(header, BODY, "another-secret-0123456789", at).valid).toBe(false);
    // Five minutes of tolerance either way, and not a second more.
    expect(verifyWebhookSignature(header, BODY, SECRET, { nowSeconds: t + 300 }).valid).toBe(true);
    expect(verifyWebhookSignature(header, BODY, SECRET, { nowSeconds: t + 301 })).toEqual({
      valid: false,
      reason: "timestamp outside the tolerance",
    });
    expect(verifyWebhookSignature(header, BODY, SECRET, { nowSeconds: t - 301 }).valid).toBe(false);
    // A replay with a fresh timestamp but the old signature: the timestamp is signed too.
    const replayed = header.replace(`t=${t}`, `t=${t + 400}`);
    expect(verifyWebhookSignature(replayed, BODY, SECRET, { nowSeconds: t + 400 }).valid).toBe(false);
    for (const bad of [null, "", "v1=abc", `t=${t}`, `t=x,v1=${"0".repeat(64)}`, "garbage"]) {
      expect(verifyWebhookSignature(bad, BODY, SECRET, at).valid).toBe(false);
    }
    // With the current clock (no override), an old signature is refused.
    expect(verifyWebhookSignature(header, BODY, SECRET).valid).toBe(false);
  });

  it("accepts any one of several v1 signatures (a sender rotating its secret)", () => {
    const t = 1_795_000_000;
    const old = signWebhook(BODY, "old-secret-0123456789abcdef", t).split(",")[1];
    const header = `${signWebhook(BODY, SECRET, t)},${old}`;
    expect(verifyWebhookSignature(header, BODY, SECRET, { nowSeconds: t }).valid).toBe(true);
    expect(verifyWebhookSignature(header, BODY, "old-secret-0123456789abcdef", { nowSeconds: t }).valid).toBe(true);
  });
});

describe("the README's receiver code", () => {
  it("is lib/webhooks/verify.ts verbatim, so what the tests check is what receivers copy", () => {
    const source = readFileSync(new URL("../../lib/webhooks/verify.ts", import.meta.url), "utf8");
    const code = source.slice(source.indexOf("import { createHmac")).trimEnd();
    expect(code).toContain("export function verifyWebhookSignature(");
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain(code);
  });
});

describe("callback_url policy", () => {
  const refused = async (url: string, production: boolean, resolve?: (host: string) => Promise<string[]>) => {
    const error = await checkCallbackUrl(url, { production, ...(resolve ? { resolve } : {}) }).then(
      () => null,
      (caught: unknown) => caught as { code: string; fields: Array<{ field: string }> },
    );
    if (error === null) return null;
    expect(error.code).toBe("validation_failed");
    expect(error.fields.map((f) => f.field)).toEqual(["callback_url"]);
    return error;
  };

  it("outside production: https anywhere, http(s) only to loopback", async () => {
    for (const url of ["https://hooks.example.com/x", "http://127.0.0.1:8080/x", "http://localhost:3000/", "http://[::1]:9/"]) {
      expect(await refused(url, false)).toBeNull();
    }
    for (const url of ["http://hooks.example.com/x", "http://10.0.0.5/", "ftp://127.0.0.1/", "not a url", "https://u:p@example.com/"]) {
      expect(await refused(url, false)).not.toBeNull();
    }
  });

  it("in production: https only, to hosts that resolve to public addresses only", async () => {
    const dns: Record<string, string[]> = {
      "hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
      "internal.example.com": ["10.1.2.3"],
      "sneaky.example.com": ["93.184.216.34", "169.254.169.254"],
      "mapped.example.com": ["::ffff:192.168.1.1"],
      "v6private.example.com": ["fd00:ec2::254"],
    };
    const resolve = (host: string) => {
      const found = dns[host];
      return found ? Promise.resolve(found) : Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
    };
    expect(await refused("https://hooks.example.com/dropflow", true, resolve)).toBeNull();
    for (const url of [
      "http://hooks.example.com/dropflow", // plain http
      "https://internal.example.com/",
      "https://sneaky.example.com/", // one bad address is enough
      "https://mapped.example.com/",
      "https://v6private.example.com/",
      "https://nowhere.example.com/", // does not resolve
      "https://127.0.0.1/",
      "https://localhost/",
      "https://[::1]/",
      "https://169.254.169.254/latest/meta-data/",
      "https://172.16.0.1/",
      "https://192.168.0.10/",
      "https://[fe80::1]/",
    ]) {
      expect(await refused(url, true, resolve), url).not.toBeNull();
    }
  });

  it("classifies addresses", () => {
    for (const address of ["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "127.0.0.1", "0.0.0.0", "100.64.0.1", "::1", "::", "fc00::1", "fd12::1", "fe80::1", "::ffff:10.0.0.1", "0:0:0:0:0:ffff:a00:1"]) {
      expect(isForbiddenAddress(address), address).toBe(true);
    }
    for (const address of ["8.8.8.8", "172.32.0.1", "93.184.216.34", "2606:4700::1111"]) {
      expect(isForbiddenAddress(address), address).toBe(false);
    }
  });
});

describe("deliverWebhook", () => {
  let receiver: Destination;
  beforeAll(async () => {
    receiver = await startDestination();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it("signs each attempt at its own time, and reports a non-2xx answer as a failure to retry", async () => {
    let clock = 1_795_000_000_000;
    const delivery = {
      url: `${receiver.url}/hook`,
      event: "import.finished",
      body: BODY,
      secret: SECRET,
      deliveryId: "3f0c1d9e-8d0a-4e55-9a53-5d7b7f7b9a10",
      production: false,
      now: () => clock,
    };
    receiver.setHandler(() => ({ status: 500 }));
    await expect(deliverWebhook(delivery)).rejects.toMatchObject({ code: "service_unavailable" });
    clock += 12_000;
    receiver.setHandler(() => ({ status: 204 }));
    await expect(deliverWebhook(delivery)).resolves.toMatchObject({ status: 204 });
    const [first, second] = receiver.requests.slice(-2);
    const header = (request: typeof first) => String(request?.headers["dropflow-signature"]);
    expect(header(first)).toMatch(/^t=1795000000,v1=[0-9a-f]{64}$/);
    expect(header(second)).toMatch(/^t=1795000012,v1=[0-9a-f]{64}$/);
    for (const request of [first, second]) {
      const t = Number(/t=(\d+)/.exec(header(request))?.[1]);
      expect(verifyWebhookSignature(header(request), request?.body ?? "", SECRET, { nowSeconds: t }).valid).toBe(true);
      expect(request?.headers).toMatchObject({
        "content-type": "application/json",
        "dropflow-event": "import.finished",
        "dropflow-delivery": delivery.deliveryId,
      });
      expect(request?.text).toBe(BODY);
    }
    // A redirect is not followed (it could lead past the address check): a failure.
    receiver.setHandler(() => ({ status: 302, headers: { location: "http://169.254.169.254/" } }));
    await expect(deliverWebhook(delivery)).rejects.toMatchObject({ code: "service_unavailable" });
  });
});
