/**
 * public/vendor/ holds the dashboard's third-party code as committed files. They must be
 * exactly what `npm run vendor` (dev/vendor.ts) makes from the installed pins now, so a
 * version bump in package.json without `npm run vendor` (or a hand edit) fails here.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { staleVendorFiles, VENDOR_DIR, vendorFiles } from "../../dev/vendor.js";

describe("public/vendor/", () => {
  it("equals what npm run vendor makes from package.json's pins", async () => {
    const files = await vendorFiles();
    expect(files.map((file) => file.name).sort()).toEqual(["blob-client.js", "chart.umd.min.js"]);
    // Every committed file is one the script makes, byte for byte, and none is missing.
    expect(await staleVendorFiles(files)).toEqual([]);
  });

  it("names the pinned versions it was made from", async () => {
    const manifest = JSON.parse(await readFile(path.join(VENDOR_DIR, "../../package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const blobClient = await readFile(path.join(VENDOR_DIR, "blob-client.js"), "utf8");
    const chart = await readFile(path.join(VENDOR_DIR, "chart.umd.min.js"), "utf8");
    expect(blobClient).toContain(`@vercel/blob ${manifest.dependencies["@vercel/blob"]} (Apache-2.0)`);
    expect(blobClient).toContain(`with esbuild ${manifest.devDependencies.esbuild};`);
    expect(chart.startsWith(`/*!\n * Chart.js v${manifest.devDependencies["chart.js"]}\n`)).toBe(true);
    // The two changes dev/vendor.ts makes to the SDK are in the bundle.
    expect(blobClient).toContain("globalThis.dropflowBlobApiUrl");
    expect(blobClient).not.toContain("process.env.VERCEL_BLOB_API_URL");
  });
});
