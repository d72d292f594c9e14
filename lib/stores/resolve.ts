/**
 * A store named in a request (case-insensitive), or a 400 naming the field and listing
 * the known stores, so a typo is caught before anything is written or read.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { AppError, type FieldProblem } from "../errors.js";

export interface NamedStore {
  id: number;
  name: string;
}

export async function resolveStore(
  db: Database,
  name: string,
  at: { field?: string; location?: FieldProblem["location"] } = {},
): Promise<NamedStore> {
  const [store] = await queryRows<{ id: number; name: string }>(
    db,
    sql`select id, name from stores where lower(name) = lower(${name})`,
  );
  if (store) return store;
  const known = await queryRows<{ name: string }>(db, sql`select name from stores order by name`);
  throw new AppError(
    "validation_failed",
    `Unknown store "${name}". Known stores: ${known.map((s) => s.name).join(", ") || "none yet (a purchase import creates them)"}.`,
    { fields: [{ field: at.field ?? "store", location: at.location ?? "body", message: "unknown_store" }] },
  );
}
