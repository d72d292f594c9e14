import { route } from "../../lib/http/index.js";
import { SyncRequest, SyncSourceParams } from "../../lib/sync/params.js";
import { startRunFromApi } from "../../lib/sync/start.js";

/** Starts a catalogue sync run of `emag` or `sap`; honours Idempotency-Key; 409 sync_running while one runs. */
export const POST = route(
  { operation: "startSync", auth: "api", query: SyncSourceParams, body: SyncRequest },
  async ({ request, query, body, runtime, correlationId }) => startRunFromApi(runtime, request, query.source, body, correlationId),
);
