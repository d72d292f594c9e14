import { z } from "zod";
import { json, route } from "../../../lib/http/index.js";
import { listRowErrors, requireImport, type RowErrorView } from "../../../lib/imports/status.js";

const Query = z.object({
  id: z.string().uuid(),
  code: z.string().max(40).optional(),
  file: z.string().uuid().optional(),
  cursor: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(["json", "csv"]).default("json"),
});

const csvCell = (value: string | number | null) => {
  const text = value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** Row errors of an import, page by page (JSON) or all at once (CSV download). */
export const GET = route({ operation: "listImportErrors", auth: "api", query: Query }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const job = await requireImport(engine, query.id);
  const { db } = await runtime.database();
  if (query.format === "csv") {
    const lines = ["file,line,column,code,message,raw"];
    let after: number | undefined;
    for (;;) {
      const page = await listRowErrors(db, job.id, { code: query.code, fileId: query.file, afterId: after, limit: 5000 });
      for (const e of page.errors as RowErrorView[]) {
        lines.push([e.file, e.line, e.column, e.code, e.message, e.raw].map(csvCell).join(","));
      }
      if (page.nextId === null) break;
      after = page.nextId;
    }
    return new Response(`${lines.join("\r\n")}\r\n`, {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="import-${job.id}-errors.csv"`,
      },
    });
  }
  const page = await listRowErrors(db, job.id, {
    code: query.code,
    fileId: query.file,
    afterId: query.cursor,
    limit: query.limit,
  });
  return json({ errors: page.errors, next_cursor: page.nextId === null ? null : String(page.nextId) });
});
