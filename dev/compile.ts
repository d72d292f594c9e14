/**
 * Local services mode runs dropflow as Vercel does: compiled JavaScript, not
 * TypeScript compiled on the fly. tsx's loader adds about 50 MB to every process
 * (measured: the dev server's modules loaded under tsx 127 MB RSS, compiled 75 MB),
 * which no deployed function carries, so worker memory figures taken under tsx
 * would measure the dev tool rather than dropflow.
 *
 * esbuild transforms every module of api/, lib/ and dev/ one to one, without
 * bundling: the dev router still finds the api/ files by path, and the runtime files
 * a module finds with `new URL(…, import.meta.url)` (drizzle/, package.json,
 * public/) are linked beside the output at the same relative places.
 */
import { readdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE_DIRS = ["api", "lib", "dev"];
/** Linked, not copied: runtime files and the packages the compiled modules import. */
const LINKED = ["node_modules", "drizzle", "public", "package.json"];

/** Compiles the app into `outDir` (which must not exist yet or be empty) and returns it. */
export async function compileApp(outDir: string): Promise<string> {
  const entryPoints = SOURCE_DIRS.flatMap((dir) => sourceFiles(path.join(ROOT, dir)));
  await build({
    entryPoints,
    outbase: ROOT,
    outdir: outDir,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "silent",
  });
  for (const name of LINKED) symlinkSync(path.join(ROOT, name), path.join(outDir, name));
  return outDir;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
    .map((entry) => path.join(entry.parentPath, entry.name));
}
