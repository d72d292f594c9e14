/**
 * route() and a body that fails after the headers went out (a streamed download whose
 * next page cannot be read): no problem response is possible any more, so the failure
 * is logged with the request's correlation id and the connection is cut, and the client
 * sees a failed download, never a short file that looks whole.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebResponse, toWebRequest } from "../../dev/node-bridge.js";
import { route } from "../../lib/http/index.js";
import { addLogSink, memorySink } from "../../lib/log/index.js";
import { installTestRuntime } from "../support/runtime.js";

const logs = memorySink();
let dispose: () => Promise<void>;
let removeSink: () => void;

beforeAll(() => {
  ({ dispose } = installTestRuntime());
  removeSink = addLogSink(logs);
});
afterAll(async () => {
  removeSink();
  await dispose();
});

/** A download whose source fails after its first chunk. */
const failingDownload = route({ operation: "failingDownload", auth: "public" }, async () => {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) throw new Error("row source lost its database connection");
      sent = true;
      controller.enqueue(new TextEncoder().encode("a,b\r\n1,2\r\n"));
    },
  });
  return new Response(body, { headers: { "content-type": "text/csv; charset=utf-8" } });
});

const wholeDownload = route({ operation: "wholeDownload", auth: "public" }, async () => new Response("a,b\r\n1,2\r\n"));

const failureLines = (correlationId: string) =>
  logs.records.filter((r) => r.correlation_id === correlationId && r.msg === "response body failed after the headers were sent");

describe("route(): a body that fails mid-stream", () => {
  it("passes the error on to the reader and logs it once with the correlation id", async () => {
    const response = await failingDownload(
      new Request("http://local/api/download", { headers: { "x-correlation-id": "stream-fail-1" } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-correlation-id")).toBe("stream-fail-1");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("a,b\r\n1,2\r\n");
    await expect(reader.read()).rejects.toThrow("row source lost its database connection");
    expect(failureLines("stream-fail-1")).toEqual([
      expect.objectContaining({
        level: "error",
        operation: "failingDownload",
        path: "/api/download",
        status: 200,
        err: expect.objectContaining({ message: "row source lost its database connection" }),
      }),
    ]);
  });

  it("leaves a body that completes as it was", async () => {
    const response = await wholeDownload(new Request("http://local/api/whole", { headers: { "x-correlation-id": "whole-1" } }));
    expect(await response.text()).toBe("a,b\r\n1,2\r\n");
    expect(response.headers.get("x-correlation-id")).toBe("whole-1");
    expect(failureLines("whole-1")).toEqual([]);
  });

  describe("over HTTP through the Node bridge", () => {
    let server: Server;
    let base: string;
    const bridgeFailures: unknown[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        void (async () => {
          const request = await toWebRequest(req, new URL(req.url ?? "/", "http://local"));
          await sendWebResponse(res, await failingDownload(request), req.method ?? "GET");
        })().catch((error: unknown) => {
          // What the dev server does with it: note it; the bridge's pipeline has already cut the socket.
          bridgeFailures.push(error);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it("cuts the connection: the client's read of the body fails instead of ending cleanly", async () => {
      const response = await fetch(`${base}/api/download`, { headers: { "x-correlation-id": "stream-fail-2" } });
      expect(response.status).toBe(200);
      await expect(response.text()).rejects.toThrow();
      expect(failureLines("stream-fail-2")).toHaveLength(1);
      await expect.poll(() => bridgeFailures.length).toBe(1);
    });
  });
});
