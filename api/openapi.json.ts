import { json, route } from "../lib/http/index.js";
import { openApiDocument } from "../lib/openapi/document.js";

/**
 * The OpenAPI 3.1 document of this API, built from the routes' own zod schemas
 * (lib/openapi). Public on purpose: it describes the API and holds no data. It changes
 * only with a deploy, so clients and CDNs may keep it a few minutes.
 */
export const GET = route({ operation: "getOpenApiDocument", auth: "public" }, () =>
  Promise.resolve(json(openApiDocument(), { headers: { "cache-control": "public, max-age=300" } })),
);
