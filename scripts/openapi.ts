/**
 * The API reference from the code (docs/api.md):
 *   tsx scripts/openapi.ts            prints the OpenAPI 3.1 document (what GET /api/openapi.json serves)
 *   tsx scripts/openapi.ts --docs     rewrites the error-code catalogue in docs/api.md
 */
import { readFileSync, writeFileSync } from "node:fs";
import { buildOpenApiDocument } from "../lib/openapi/document.js";
import { withCatalogue } from "../lib/openapi/error-catalogue.js";

const DOCS = new URL("../docs/api.md", import.meta.url);

if (process.argv.includes("--docs")) {
  const before = readFileSync(DOCS, "utf8");
  const after = withCatalogue(before);
  writeFileSync(DOCS, after);
  process.stdout.write(after === before ? "docs/api.md: the catalogue was current\n" : "docs/api.md: catalogue rewritten\n");
} else {
  process.stdout.write(`${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
}
