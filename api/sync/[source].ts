import { z } from "zod";
import { SYNC_SOURCES } from "../../lib/db/schema.js";
import { route } from "../../lib/http/index.js";
import { SyncRequest } from "../../lib/sync/params.js";
import { startRunFromApi } from "../../lib/sync/start.js";

/** Starts a catalogue sync run of `emag` or `sap`; honours Idempotency-Key; 409 sync_running while one runs. */
export const POST = route(
  { operation: "startSync", auth: "api", query: z.object({ source: z.enum(SYNC_SOURCES) }), body: SyncRequest },
  async ({ request, query, body, runtime, correlationId }) => startRunFromApi(runtime, request, query.source, body, correlationId),
);
