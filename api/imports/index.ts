import { sql } from "drizzle-orm";
import { z } from "zod";
import { queryRows } from "../../lib/db/client.js";
import { importFiles } from "../../lib/db/schema.js";
import { AppError } from "../../lib/errors.js";
import { json, route } from "../../lib/http/index.js";
import { IMPORT_KIND } from "../../lib/imports/kind.js";
import { uuidv7 } from "../../lib/jobs/index.js";
import { listJobs } from "../../lib/jobs/index.js";
import { validateObjectKey } from "../../lib/storage/index.js";

const FileRef = z
  .object({
    key: z.string().min(1).optional(),
    url: z.string().url().optional(),
    name: z.string().min(1).max(255),
  })
  .refine((file) => Boolean(file.key) !== Boolean(file.url), { message: "give exactly one of key or url" });

const CreateImport = z.object({
  kind: z.enum(["purchases", "settlements"]),
  files: z.array(FileRef).min(1).max(200),
  store: z.string().trim().min(1).max(200).optional(),
  lenient_amounts: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  callback_url: z.string().url().optional(),
});

/** A Blob URL's pathname is the object's key. */
function keyOf(file: z.infer<typeof FileRef>, index: number): string {
  const raw = file.key ?? decodeURIComponent(new URL(file.url as string).pathname.replace(/^\/+/, ""));
  try {
    return validateObjectKey(raw);
  } catch (error) {
    throw new AppError("validation_failed", `files.${index}: ${(error as Error).message}`, {
      fields: [{ field: `files.${index}.${file.key ? "key" : "url"}`, location: "body", message: (error as Error).message }],
    });
  }
}

export const POST = route(
  { operation: "createImport", auth: "api", body: CreateImport },
  async ({ body, runtime, correlationId }) => {
    const { db } = await runtime.database();
    let storeId: number | null = null;
    if (body.store) {
      const [store] = await queryRows<{ id: number }>(db, sql`select id from stores where lower(name) = lower(${body.store})`);
      if (!store) {
        const known = await queryRows<{ name: string }>(db, sql`select name from stores order by name`);
        throw new AppError(
          "validation_failed",
          `Unknown store "${body.store}". Known stores: ${known.map((s) => s.name).join(", ") || "none yet (a purchase import creates them)"}.`,
          { fields: [{ field: "store", location: "body", message: "unknown_store" }] },
        );
      }
      storeId = store.id;
    }
    const objects = runtime.objectStore();
    const keys = body.files.map(keyOf);
    const duplicate = keys.findIndex((key, i) => keys.indexOf(key) !== i);
    if (duplicate >= 0) {
      throw new AppError("validation_failed", `files.${duplicate} names the same object as an earlier file.`, {
        fields: [{ field: `files.${duplicate}`, location: "body", message: "the same file twice in one import" }],
      });
    }
    const heads = await Promise.all(keys.map((key) => objects.head(key)));
    const missing = heads.findIndex((head) => head === null);
    if (missing >= 0) {
      throw new AppError("validation_failed", `files.${missing}: no uploaded object "${keys[missing]}".`, {
        fields: [{ field: `files.${missing}`, location: "body", message: "not found in storage" }],
      });
    }
    const files = body.files.map((file, position) => ({
      id: uuidv7(),
      key: keys[position] as string,
      name: file.name,
      size: heads[position]?.size ?? 0,
      position,
    }));
    const engine = await runtime.engine();
    const job = await engine.createJob(
      IMPORT_KIND,
      {
        kind: body.kind,
        files,
        store_id: storeId,
        lenient_amounts: body.lenient_amounts,
        dry_run: body.dry_run,
        callback_url: body.callback_url ?? null,
      },
      correlationId,
      {
        onCreated: async (tx, created) => {
          await tx.insert(importFiles).values(
            files.map((file) => ({
              id: file.id,
              jobId: created.id,
              position: file.position,
              kind: body.kind,
              name: file.name,
              objectKey: file.key,
              size: file.size,
            })),
          );
        },
      },
    );
    return json(
      {
        job_id: job.id,
        files: files.map(({ id, name, size }) => ({ id, name, size })),
        status_url: `/api/imports/${job.id}`,
      },
      { status: 202, headers: { location: `/api/imports/${job.id}` } },
    );
  },
);

export const GET = route(
  {
    operation: "listImports",
    auth: "api",
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
  },
  async ({ query, runtime }) => {
    const { db } = await runtime.database();
    const engine = await runtime.engine();
    const jobs = await listJobs(db, { kind: IMPORT_KIND, limit: query.limit });
    return json({ imports: await Promise.all(jobs.map((job) => engine.view(job))) });
  },
);
