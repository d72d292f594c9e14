/**
 * The status classes of a purchase's last status (Status Pesanan Terakhir), the one
 * table reconcile and the margin report read (docs/data.md, "Reconcile"). A status is
 * compared trimmed, with runs of spaces as one and in lower case; a status not listed
 * is in progress. Add what real exports show to the lists, nowhere else.
 */
import { type SQL, sql } from "drizzle-orm";

export const STATUS_CLASSES = ["completed", "cancelled", "returned", "in_progress"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

const LISTED: Record<Exclude<StatusClass, "in_progress">, readonly string[]> = {
  completed: ["pesanan selesai", "selesai"],
  cancelled: ["pesanan dibatalkan", "dibatalkan", "batal"],
  returned: ["pesanan dikembalikan", "dikembalikan", "pengembalian"],
};

/** What a status is compared as. */
export function normaliseStatus(status: string): string {
  return status.trim().replace(/\s+/g, " ").toLowerCase();
}

export function statusClassOf(status: string): StatusClass {
  const normalised = normaliseStatus(status);
  for (const [statusClass, statuses] of Object.entries(LISTED)) {
    if (statuses.includes(normalised)) return statusClass as StatusClass;
  }
  return "in_progress";
}

/** Whether the status is one the table lists (an unlisted one is in progress, with a warning). */
export function isListedStatus(status: string): boolean {
  return Object.values(LISTED).some((statuses) => statuses.includes(normaliseStatus(status)));
}

/**
 * The same table as a SQL expression over a status column, so set-based queries class
 * statuses in the database. A simple CASE evaluates its operand once per row; the listed
 * statuses as exports write them (no runs of spaces) match after `lower(btrim())`, and only
 * the rest pay for the regular expression. Postgres' `\s` is the same whitespace class
 * for the statuses that occur (spaces, tabs, line ends).
 */
export function statusClassSql(column: SQL): SQL {
  const branches = sql.join(
    Object.entries(LISTED).flatMap(([statusClass, statuses]) => statuses.map((status) => sql`when ${status} then ${statusClass}`)),
    sql` `,
  );
  const trimmed = sql`btrim(${column}, E' \\t\\r\\n')`;
  const normalised = sql`lower(regexp_replace(${trimmed}, E'\\\\s+', ' ', 'g'))`;
  return sql`(case lower(${trimmed}) ${branches} else (case ${normalised} ${branches} else 'in_progress' end) end)`;
}
