import { route } from "../lib/http/index.js";
import { renderMetrics } from "../lib/metrics/render.js";

/** Prometheus scrape (Bearer $METRICS_TOKEN): every process's counters, read from the metrics store. */
export const GET = route({ operation: "metrics", auth: "metrics" }, async ({ runtime }) => {
  const { contentType, body } = await renderMetrics(runtime.metrics());
  return new Response(body, { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" } });
});
