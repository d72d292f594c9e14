/**
 * The seller's stores (GET /api/stores): the names every store field suggests (the
 * page's <datalist id="store-names">), and the name of a store id a job carries.
 */
import { api } from "./api.js";
import { byId, el, fill } from "./dom.js";

let names = new Map();

export async function loadStores() {
  const { stores } = await api("/api/stores");
  names = new Map(stores.map((store) => [store.id, store.name]));
  fill(byId("store-names"), stores.map((store) => el("option", { value: store.name })));
}

/** The name of store `id`, loading the list first when the id is new (a store an import just created). */
export async function storeName(id) {
  if (!names.has(id)) await loadStores();
  return names.get(id) ?? `store ${id}`;
}
