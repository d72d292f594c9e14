import { checkHealth } from "../lib/health/index.js";
import { json, route } from "../lib/http/index.js";
import { VERSION } from "../lib/version.js";

/** Public on purpose: up/down and latencies, no internals. 503 names what is down. */
export const GET = route({ operation: "health", auth: "public" }, async ({ runtime }) => {
  const report = await checkHealth(VERSION, {
    db: async () => (await runtime.database()).ping(),
    kv: () => runtime.jobStore().ping(),
    queue: runtime.hasQueue() ? () => runtime.taskQueue().ping() : null,
    storage: runtime.hasObjectStore() ? () => runtime.objectStore().ping() : null,
  });
  return json(report, { status: report.status === "ok" ? 200 : 503, headers: { "cache-control": "no-store" } });
});

/** Uptime monitors send HEAD: the same status and headers as GET, no body. */
export const HEAD = async (request: Request): Promise<Response> => {
  const response = await GET(request);
  await response.body?.cancel();
  return new Response(null, { status: response.status, headers: response.headers });
};
