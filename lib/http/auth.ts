import { bearerToken, constantTimeEqual, matchesAnyToken } from "../auth/bearer.js";
import { AppError } from "../errors.js";
import type { Runtime } from "../runtime.js";

/**
 * Who may call a route (every route has exactly one way in): `public` on purpose,
 * `api` with an API bearer token, `cron` with `Bearer $CRON_SECRET` (what Vercel cron
 * sends), `queue` with a valid `Upstash-Signature` over the raw body (checked by
 * route(), which owns the body), `metrics` with `Bearer $METRICS_TOKEN` (a Prometheus
 * scrape; no token configured: nobody).
 */
export type RouteAuth = "public" | "api" | "cron" | "queue" | "metrics";

const CHALLENGE = { "www-authenticate": 'Bearer realm="dropflow"' };

function unauthorized(): AppError {
  // One message for missing and wrong credentials: a caller learns nothing from it.
  return new AppError("unauthorized", "Missing or invalid bearer token.", { headers: CHALLENGE });
}

export function authenticate(auth: RouteAuth, request: Request, runtime: Runtime): void {
  if (auth === "public" || auth === "queue") return;
  const presented = bearerToken(request.headers.get("authorization"));
  if (auth === "api") {
    if (!matchesAnyToken(presented, runtime.apiTokens)) throw unauthorized();
    return;
  }
  const secret = auth === "metrics" ? runtime.config.metricsToken : runtime.config.cronSecret;
  if (secret === null || presented === null || !constantTimeEqual(presented, secret)) throw unauthorized();
}
