import { z } from "zod";
import { json, route } from "../../lib/http/index.js";
import { recommendImport } from "../../lib/imports/recommend.js";

const Query = z.object({
  file_count: z.coerce.number().int().min(1).max(200),
  avg_file_size: z.coerce.number().int().min(1),
});

export const GET = route({ operation: "recommendImport", auth: "api", query: Query }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(
    await recommendImport(
      db,
      { fileCount: query.file_count, avgFileSize: query.avg_file_size },
      { maxDurationMs: runtime.config.jobs.maxDurationMs, configuredChunkRows: runtime.config.jobs.chunkRows },
    ),
  );
});
