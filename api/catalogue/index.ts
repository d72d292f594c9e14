import { json, route } from "../../lib/http/index.js";
import { CatalogueQuery, listCatalogue } from "../../lib/sync/catalogue-list.js";

/** The synced catalogue: by source and account, searchable by name, sku or handle. */
export const GET = route({ operation: "listCatalogue", auth: "api", query: CatalogueQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(await listCatalogue(db, query));
});
