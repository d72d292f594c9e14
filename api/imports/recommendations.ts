import { json, route } from "../../lib/http/index.js";
import { RecommendationQuery, recommendImport } from "../../lib/imports/recommend.js";

export const GET = route({ operation: "recommendImport", auth: "api", query: RecommendationQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(
    await recommendImport(
      db,
      { fileCount: query.file_count, avgFileSize: query.avg_file_size },
      { maxDurationMs: runtime.config.jobs.maxDurationMs, configuredChunkRows: runtime.config.jobs.chunkRows },
    ),
  );
});
