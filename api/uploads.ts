import { json, route } from "../lib/http/index.js";
import { handleUploadRequest, uploadSettings } from "../lib/imports/uploads.js";

/**
 * Vercel Blob client uploads. `auth: "public"` on purpose: the route has two callers
 * with different proofs (our client's API bearer for a token, Blob's signature for the
 * upload-completed callback), and lib/imports/uploads.ts checks the right one for each
 * before anything else happens. The body is read there too (the callback's signature
 * is checked over the parsed body as received).
 */
export const POST = route({ operation: "handleUpload", auth: "public" }, ({ request, runtime }) =>
  handleUploadRequest(runtime, request),
);

/** Where a client sends an upload's bytes and the largest file allowed (the dashboard asks before it uploads). */
export const GET = route({ operation: "getUploadSettings", auth: "api" }, ({ runtime }) =>
  Promise.resolve(json(uploadSettings(runtime))),
);
