/**
 * `npm run vendor`: writes the dashboard's third-party browser code into public/vendor/,
 * from the packages package.json pins. Our own code in public/ needs no build; these
 * two files are the only generated ones, committed so that Vercel and `npm run dev`
 * serve public/ as it is. `npm run vendor -- --check` exits 1 when a committed file
 * differs from what this script makes now (test/dashboard/vendor.test.ts does the same
 * in the suite), so the files never drift from the pins.
 *
 * - `blob-client.js`: `upload()` of `@vercel/blob/client` as one ES module, bundled by
 *   esbuild (itself pinned) for the browser, with two changes, each checked to apply:
 *   the Blob API's address comes from `globalThis.dropflowBlobApiUrl` (the SDK reads
 *   VERCEL_BLOB_API_URL from a process environment a browser lacks; the page sets it
 *   from GET /api/uploads), and upload progress is always reported through
 *   XMLHttpRequest (the SDK would stream the body with fetch where the browser can,
 *   which Chromium does over HTTP/2 only and so fails against a plain-HTTP Blob API
 *   such as the dev server's stand-in; XHR reports progress on any HTTP version and is
 *   what the SDK already uses in Firefox and Safari).
 * - `chart.umd.min.js`: Chart.js's own UMD build, copied byte for byte.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin, version as esbuildVersion } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const VENDOR_DIR = path.join(ROOT, "public", "vendor");

export interface VendorFile {
  /** The file's name in public/vendor/. */
  name: string;
  contents: string;
}

/** The global the page sets to the Blob API's address before an upload (null or unset: Vercel's). */
export const BLOB_API_URL_GLOBAL = "globalThis.dropflowBlobApiUrl";

/** The one line of the SDK that picks streamed fetch for upload progress; replaced so XHR always reports it. */
const STREAMED_PROGRESS = {
  find: "var hasFetchWithUploadProgress = hasFetch && supportsRequestStreams;",
  replace: "var hasFetchWithUploadProgress = false; // dropflow (dev/vendor.ts): progress through XMLHttpRequest",
};

/** Every file public/vendor/ holds, as this script makes it from the installed pins. */
export async function vendorFiles(): Promise<VendorFile[]> {
  return [
    { name: "blob-client.js", contents: await blobClientBundle() },
    { name: "chart.umd.min.js", contents: await readFile(path.join(ROOT, "node_modules/chart.js/dist/chart.umd.min.js"), "utf8") },
  ];
}

async function blobClientBundle(): Promise<string> {
  let patched = 0;
  const progressThroughXhr: Plugin = {
    name: "upload-progress-through-xhr",
    setup(bundler) {
      bundler.onLoad({ filter: /[\\/]@vercel[\\/]blob[\\/]dist[\\/][^\\/]+\.js$/ }, async (args) => {
        const text = await readFile(args.path, "utf8");
        if (!text.includes(STREAMED_PROGRESS.find)) return undefined;
        patched += 1;
        return { contents: text.replace(STREAMED_PROGRESS.find, STREAMED_PROGRESS.replace), loader: "js" };
      });
    },
  };
  const result = await build({
    stdin: { contents: 'export { upload } from "@vercel/blob/client";', resolveDir: ROOT, sourcefile: "blob-client-entry.js" },
    absWorkingDir: ROOT,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    define: { "process.env.VERCEL_BLOB_API_URL": BLOB_API_URL_GLOBAL },
    plugins: [progressThroughXhr],
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  if (patched !== 1) {
    throw new Error(
      `@vercel/blob changed: the line "${STREAMED_PROGRESS.find}" was found in ${patched} files, not 1; ` +
        "check that uploads still report progress through XMLHttpRequest, then update dev/vendor.ts",
    );
  }
  const code = result.outputFiles?.[0]?.text;
  if (code === undefined) throw new Error("esbuild wrote no output for the Blob client bundle");
  if (code.includes("process.env.VERCEL_BLOB_API_URL")) throw new Error("the Blob API address was not replaced in the bundle");
  const packages = await bundledPackages(Object.keys(result.metafile.inputs));
  const banner = [
    "/*!",
    " * upload() of @vercel/blob/client as a browser ES module. Made by dev/vendor.ts (npm run vendor)",
    ` * with esbuild ${esbuildVersion}; do not edit: test/dashboard/vendor.test.ts checks it against the pins.`,
    " * Changed from the SDK: the Blob API's address is read from globalThis.dropflowBlobApiUrl, and",
    " * upload progress always goes through XMLHttpRequest (see dev/vendor.ts).",
    ` * Bundled: ${packages.join(", ")}.`,
    " */",
  ].join("\n");
  return `${banner}\n${code}`;
}

/** "name version (licence)" of every package whose files esbuild bundled, by name. */
async function bundledPackages(inputs: string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const input of inputs) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) names.add(match[1]);
  }
  const described = [];
  for (const name of [...names].sort()) {
    const manifest = JSON.parse(await readFile(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
      version: string;
      license?: string;
    };
    described.push(`${name} ${manifest.version} (${manifest.license ?? "see its package"})`);
  }
  return described;
}

/** The names of public/vendor/'s files that differ from `expected`, are missing, or are not made by this script. */
export async function staleVendorFiles(expected: VendorFile[]): Promise<string[]> {
  const present = await readdir(VENDOR_DIR).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const stale = present.filter((name) => !expected.some((file) => file.name === name)).map((name) => `${name} (not made by dev/vendor.ts)`);
  for (const file of expected) {
    const committed = await readFile(path.join(VENDOR_DIR, file.name), "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
    if (committed === null) stale.push(`${file.name} (missing)`);
    else if (committed !== file.contents) stale.push(`${file.name} (differs)`);
  }
  return stale;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
  const files = await vendorFiles();
  if (values.check) {
    const stale = await staleVendorFiles(files);
    if (stale.length > 0) {
      process.stderr.write(`public/vendor/ is not what npm run vendor makes from the pins: ${stale.join(", ")}\n`);
      process.exit(1);
    }
    process.stdout.write("public/vendor/ is up to date\n");
    return;
  }
  await rm(VENDOR_DIR, { recursive: true, force: true });
  await mkdir(VENDOR_DIR, { recursive: true });
  for (const file of files) {
    await writeFile(path.join(VENDOR_DIR, file.name), file.contents);
    process.stdout.write(`public/vendor/${file.name}: ${Buffer.byteLength(file.contents).toLocaleString("en-US")} bytes\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
