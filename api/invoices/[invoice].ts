import { json, route } from "../../lib/http/index.js";
import { InvoiceQuery, lookupInvoice } from "../../lib/invoices/lookup.js";

/** One invoice whole: its purchases with lines, its settlement, its current outcome. */
export const GET = route({ operation: "getInvoice", auth: "api", query: InvoiceQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(await lookupInvoice(db, query.invoice, query.store ?? null));
});
