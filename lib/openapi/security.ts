/**
 * The document's security schemes: one per way into a route (lib/http/auth.ts), and
 * Blob's callback signature, the second way into POST /api/uploads.
 */
import type { ZodOpenApiSecuritySchemeObject } from "zod-openapi";
import type { RouteAuth } from "../http/auth.js";
import type { SecuritySchemeName } from "./operation.js";

export const SECURITY_SCHEMES: Record<SecuritySchemeName, ZodOpenApiSecuritySchemeObject> = {
  apiBearer: {
    type: "http",
    scheme: "bearer",
    description: "An API token (DROPFLOW_API_TOKENS; `npm run dev` generates one into .data/api-token).",
  },
  cronBearer: {
    type: "http",
    scheme: "bearer",
    description: "The cron secret (CRON_SECRET): what Vercel cron sends. Not an API token.",
  },
  metricsBearer: {
    type: "http",
    scheme: "bearer",
    description: "The metrics token (METRICS_TOKEN): what a Prometheus scrape config holds. Without one configured nobody may scrape.",
  },
  qstashSignature: {
    type: "apiKey",
    in: "header",
    name: "Upstash-Signature",
    description: "QStash's signature (a JWT) over the raw body, issued for this deployment's URL of the route.",
  },
  blobCallback: {
    type: "apiKey",
    in: "header",
    name: "x-vercel-signature",
    description: "Vercel Blob's HMAC-SHA256 of the upload-completed callback, keyed by the store's read-write token.",
  },
};

/** The schemes that let a caller into a route of each `auth`; none for a public one. */
export const AUTH_SCHEMES: Record<RouteAuth, readonly SecuritySchemeName[]> = {
  public: [],
  api: ["apiBearer"],
  cron: ["cronBearer"],
  metrics: ["metricsBearer"],
  queue: ["qstashSignature"],
};
