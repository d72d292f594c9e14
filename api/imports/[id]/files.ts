import { json, route } from "../../../lib/http/index.js";
import { JobIdParams } from "../../../lib/jobs/index.js";
import { deleteImportFiles } from "../../../lib/imports/delete-files.js";

/** Deletes a finished import's uploaded files now (they hold buyers' names and addresses); 409 while it runs. */
export const DELETE = route({ operation: "deleteImportFiles", auth: "api", query: JobIdParams }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(await deleteImportFiles(db, runtime.objectStore(), await runtime.engine(), query.id));
});
