/** What every command runs with, made once its flags are read. */
import type { DropflowApi } from "./api-client.js";
import type { Output } from "./output.js";

export interface CommandContext {
  api: DropflowApi;
  out: Output;
  /** --blob-api-url or VERCEL_BLOB_API_URL: where uploads' bytes go instead of where the deployment says; null: as it says. */
  blobApiUrl: string | null;
}
