import { json, route } from "../../lib/http/index.js";
import { listStores, type StoreList } from "../../lib/stores/index.js";

export const GET = route({ operation: "listStores", auth: "api" }, async ({ runtime }) => {
  const { db } = await runtime.database();
  return json({ stores: await listStores(db) } satisfies StoreList);
});
