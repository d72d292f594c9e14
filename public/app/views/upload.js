/**
 * Drag-and-drop upload that starts an import. Each file goes from the browser straight
 * to Blob storage with the Vercel Blob client upload (POST /api/uploads hands out a
 * token for one new key; big files go in parts), a progress bar per file; once all are
 * stored, POST /api/imports starts one import of them, in the order they were listed.
 */
import { upload } from "../../vendor/blob-client.js";
import { api, authHeaders, newUuid } from "../api.js";
import { byId, el, say } from "../dom.js";
import { bytes } from "../format.js";
import { newImportKey } from "../file-names.js";

/** Files above this go in 8 MiB parts, several at a time (the README's "Uploading files"). */
export const MULTIPART_FROM_BYTES = 64 * 1024 * 1024;
/** Files sent at once. */
const LANES = 3;
/** POST /api/imports takes up to this many files. */
const MAX_FILES = 200;

/**
 * Asks where the bytes go (GET /api/uploads) and tells the Blob client: null means
 * Vercel Blob's own API; the dev server names its local stand-in.
 */
export async function prepareBlobClient() {
  const settings = await api("/api/uploads");
  globalThis.dropflowBlobApiUrl = settings.blob_api_url ?? undefined;
  return settings;
}

/** Uploads one file; `onProgress(percent)` as bytes go out. Resolves to the file as POST /api/imports names it. */
export async function uploadFile(file, onProgress) {
  const blob = await upload(newImportKey(file.name), file, {
    access: "private",
    handleUploadUrl: "/api/uploads",
    headers: authHeaders(),
    clientPayload: JSON.stringify({ name: file.name }),
    // The browser's type for the file; none (or one that says nothing) lets storage infer it from the name.
    contentType: file.type && file.type !== "application/octet-stream" ? file.type : undefined,
    multipart: file.size > MULTIPART_FROM_BYTES,
    onUploadProgress: ({ percentage }) => onProgress(percentage),
  });
  return { key: blob.pathname, name: file.name };
}

/** One file's row in the upload list: its name, size, bar and state in words. */
function uploadRow(file) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const state = el("span", { class: "upload-state" }, "waiting");
  const li = el("li", { class: "upload" }, el("span", { class: "upload-name" }, file.name), el("span", { class: "meta" }, bytes(file.size)), bar, state);
  let finished = false;
  return {
    li,
    progress(percent) {
      // The SDK throttles its reports: a late one may come after the upload has ended.
      if (finished) return;
      bar.value = percent;
      state.textContent = `${Math.floor(percent)} %`;
    },
    done() {
      finished = true;
      bar.value = 100;
      state.textContent = "✓ uploaded";
    },
    failed(message) {
      finished = true;
      li.classList.add("tone-bad");
      state.textContent = `✕ ${message}`;
    },
  };
}

/** Wires the upload form; `onImportStarted(jobId)` once the import is created. */
export function mountUpload({ onImportStarted }) {
  const form = byId("upload-form");
  const zone = byId("drop-zone");
  const input = byId("upload-files");
  const list = byId("upload-list");
  const message = byId("upload-message");
  let busy = false;

  async function importFiles(files) {
    if (busy) {
      say(message, "An upload is still going: wait for it to finish.", "warn");
      return;
    }
    const options = new FormData(form);
    const fileType = options.get("file_type");
    const store = String(options.get("store") ?? "").trim();
    if (files.length === 0) return;
    if (files.length > MAX_FILES) {
      say(message, `One import takes at most ${MAX_FILES} files; you chose ${files.length}.`, "bad");
      return;
    }
    if (fileType === "settlements" && store === "") {
      say(message, "Settlement reports belong to one store: name it in the Store field first.", "bad");
      byId("upload-store").focus();
      return;
    }
    busy = true;
    form.setAttribute("aria-busy", "true");
    try {
      const settings = await prepareBlobClient();
      const tooLarge = files.find((file) => file.size > settings.max_upload_bytes);
      if (tooLarge) {
        say(message, `${tooLarge.name} is ${bytes(tooLarge.size)}; this deployment takes files up to ${bytes(settings.max_upload_bytes)}.`, "bad");
        return;
      }
      const rows = files.map(uploadRow);
      list.replaceChildren(...rows.map((row) => row.li));
      say(message, `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`, "info");
      const stored = new Array(files.length);
      let failures = 0;
      let next = 0;
      const lane = async () => {
        while (next < files.length) {
          const index = next++;
          try {
            stored[index] = await uploadFile(files[index], (percent) => rows[index].progress(percent));
            rows[index].done();
          } catch (error) {
            failures += 1;
            rows[index].failed(error instanceof Error ? error.message : String(error));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(LANES, files.length) }, lane));
      if (failures > 0) {
        say(message, `${failures} of ${files.length} files did not upload, so no import was started. Drop them again to retry.`, "bad");
        return;
      }
      const body = { file_type: fileType, files: stored, dry_run: options.has("dry_run"), reconcile: options.has("reconcile") };
      if (store !== "") body.store = store;
      const created = await api("/api/imports", { method: "POST", body, idempotencyKey: newUuid() });
      say(message, `${files.length} file${files.length === 1 ? "" : "s"} uploaded; import started.`, "ok");
      onImportStarted(created.job_id);
    } catch (error) {
      say(message, `The import could not start: ${error instanceof Error ? error.message : String(error)}`, "bad");
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
    }
  }

  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = ""; // choosing the same files again starts another import
    void importFiles(files);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    void importFiles([...event.dataTransfer.files]);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  // The store field matters for settlement reports only.
  const storeField = byId("upload-store-field");
  const showStore = () => {
    const settlements = new FormData(form).get("file_type") === "settlements";
    storeField.classList.toggle("needed", settlements);
    byId("upload-store").required = settlements;
  };
  form.addEventListener("change", showStore);
  showStore();
}
