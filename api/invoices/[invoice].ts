import { z } from "zod";
import { json, route } from "../../lib/http/index.js";
import { lookupInvoice } from "../../lib/invoices/lookup.js";

const Query = z
  .object({
    invoice: z.string().trim().min(1).max(200),
    store: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

/** One invoice whole: its purchases with lines, its settlement, its current outcome. */
export const GET = route({ operation: "getInvoice", auth: "api", query: Query }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(await lookupInvoice(db, query.invoice, query.store ?? null));
});
