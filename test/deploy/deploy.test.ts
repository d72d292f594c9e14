/**
 * Deploy fidelity: every api/ function traced as Vercel's Node builder traces it ships
 * its imports and runtime files, and vercel.json only names things that exist. The
 * fixture half proves each check can fail, naming the file at fault.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkDeploy,
  checkVercelJson,
  type DeployReport,
  type FunctionTrace,
  globToRegExp,
  type Problem,
  traceFunctions,
  vercelApiEntries,
} from "../../dev/deploy-check.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function fn(report: DeployReport, entry: string): FunctionTrace {
  const found = report.trace.functions.find((f) => f.entry === entry);
  if (!found) throw new Error(`no trace for ${entry}`);
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .sort();
}

describe("deploy check over the repository", () => {
  let report: DeployReport;

  beforeAll(async () => {
    report = await checkDeploy(ROOT);
  });

  it("finds no problems", () => {
    expect(report.problems).toEqual([]);
  });

  it("traces every api/ function", () => {
    const entries = report.trace.functions.map((f) => f.entry);
    expect(entries).toContain("api/health.ts");
    expect(entries).toContain("api/stores/index.ts");
    for (const traced of report.trace.functions) {
      expect(traced.fileList).toContain(traced.entry);
    }
  });

  it("ships package.json with /api/health (read by lib/version.ts)", () => {
    const health = fn(report, "api/health.ts");
    expect(health.fileList).toContain("package.json");
    expect(health.fileList).toContain("lib/version.ts");
    expect(health.assets.map((a) => a.target)).toContain("package.json");
  });

  it("ships every migration and the drizzle journal with each function that uses the database", () => {
    const drizzle = filesUnder("drizzle");
    expect(drizzle).toContain("drizzle/meta/_journal.json");
    expect(drizzle.some((file) => file.endsWith(".sql"))).toBe(true);
    const usingDb = report.trace.functions.filter((f) => f.fileList.includes("lib/db/client.ts"));
    expect(usingDb.map((f) => f.entry)).toEqual(expect.arrayContaining(["api/health.ts", "api/stores/index.ts"]));
    for (const traced of usingDb) {
      expect(traced.fileList).toContain("lib/db/migrate.ts");
      expect(traced.fileList).toEqual(expect.arrayContaining(drizzle));
    }
  });

  it("resolves NodeNext `.js` specifiers to the .ts sources and the drivers' dynamic imports", () => {
    const stores = fn(report, "api/stores/index.ts");
    expect(stores.fileList).toEqual(
      expect.arrayContaining(["lib/http/route.ts", "lib/stores/index.ts", "lib/db/schema.ts"]),
    );
    // lib/db/client.ts loads each driver lazily with import("...").
    for (const pkg of ["pg", "@neondatabase/serverless", "ws", "drizzle-orm", "@vercel/functions"]) {
      expect(stores.fileList).toContain(`node_modules/${pkg}/package.json`);
    }
  });

  it("reports maxDuration per function from vercel.json", () => {
    const vercel = checkVercelJson(ROOT);
    expect(vercel.problems).toEqual([]);
    const health = vercel.functions.find((f) => f.entry === "api/health.ts");
    expect(health).toEqual({ entry: "api/health.ts", route: "/api/health", glob: "api/**/*.ts", maxDuration: 300 });
  });
});

describe("deploy check over a broken fixture", () => {
  let root: string;
  let report: DeployReport;

  const write = (rel: string, text: string) => {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  };
  const problemsOf = (code: Problem["code"]) => report.problems.filter((p) => p.code === code);

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "dropflow-deploy-check-"));
    write("package.json", JSON.stringify({ name: "fixture", version: "1.0.0", type: "module" }));
    write(
      "tsconfig.json",
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2023" } }),
    );
    write("lib/util.ts", "export const twice = (n: number): number => n * 2;\n");
    write(
      "lib/reader.ts",
      'import { readFileSync } from "node:fs";\nexport const text = (): string => readFileSync(new URL("../assets/x.txt", import.meta.url), "utf8");\n',
    );
    write(
      "lib/missing.ts",
      'import { readFileSync } from "node:fs";\nexport const gone = (): string => readFileSync(new URL("../assets/gone.txt", import.meta.url), "utf8");\n',
    );
    write("assets/x.txt", "hello\n");
    write(
      "api/ok.ts",
      'import { twice } from "../lib/util.js";\nexport const GET = () => new Response(String(twice(2)));\n',
    );
    write("api/broken.ts", 'import { nope } from "../lib/nope.js";\nexport const GET = () => new Response(nope);\n');
    write("api/reads.ts", 'import { text } from "../lib/reader.js";\nexport const GET = () => new Response(text());\n');
    write(
      "api/reads-included.ts",
      'import { text } from "../lib/reader.js";\nexport const GET = () => new Response(text());\n',
    );
    write("api/gone.ts", 'import { gone } from "../lib/missing.js";\nexport const GET = () => new Response(gone());\n');
    write(
      "vercel.json",
      JSON.stringify({
        functions: {
          "api/reads.ts": { excludeFiles: "assets/**" },
          "api/reads-included.ts": { excludeFiles: "assets/**", includeFiles: "assets/x.txt" },
          "api/missing/*.ts": { maxDuration: 10 },
          "api/*.ts": { maxDuration: 60 },
        },
        crons: [
          { path: "/api/ok", schedule: "0 * * * *" },
          { path: "/api/nothing-here", schedule: "0 3 * * *" },
        ],
      }),
    );
    report = await checkDeploy(root);
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("resolves `../lib/util.js` to lib/util.ts and finds nothing wrong with api/ok.ts", () => {
    const ok = report.trace.functions.find((f) => f.entry === "api/ok.ts");
    expect(ok?.fileList).toContain("lib/util.ts");
    expect(report.problems.filter((p) => p.file === "api/ok.ts" || p.functions?.includes("api/ok.ts"))).toEqual([]);
  });

  it("reports the missing relative import, naming the importing file", () => {
    expect(problemsOf("unresolved-import")).toEqual([
      expect.objectContaining({
        file: "api/broken.ts",
        message: expect.stringContaining('"../lib/nope.js"'),
        functions: ["api/broken.ts"],
      }),
    ]);
  });

  it("reports an asset that excludeFiles leaves out of the trace, and honours includeFiles", () => {
    expect(problemsOf("asset-not-traced")).toEqual([
      expect.objectContaining({
        file: "lib/reader.ts:2",
        message: expect.stringContaining("assets/x.txt"),
        functions: ["api/reads.ts"],
      }),
    ]);
    const included = report.trace.functions.find((f) => f.entry === "api/reads-included.ts");
    expect(included?.included).toEqual(["assets/x.txt"]);
  });

  it("reports an asset that does not exist", () => {
    expect(problemsOf("missing-asset")).toEqual([
      expect.objectContaining({
        file: "lib/missing.ts:2",
        message: expect.stringContaining("assets/gone.txt"),
        functions: ["api/gone.ts"],
      }),
    ]);
  });

  it("reports a cron path with no api/ function and a functions glob matching nothing", () => {
    expect(problemsOf("cron-path")).toEqual([
      expect.objectContaining({ file: "vercel.json", message: expect.stringContaining('"/api/nothing-here"') }),
    ]);
    expect(problemsOf("functions-glob")).toEqual([
      expect.objectContaining({ file: "vercel.json", message: expect.stringContaining('"api/missing/*.ts"') }),
    ]);
    expect(report.vercel.crons).toContainEqual({ path: "/api/ok", schedule: "0 * * * *", entry: "api/ok.ts" });
    expect(report.vercel.functions.find((f) => f.entry === "api/ok.ts")).toMatchObject({
      glob: "api/*.ts",
      maxDuration: 60,
    });
  });

  it("has nothing else to report", () => {
    expect(report.problems.map((p) => p.code).sort()).toEqual([
      "asset-not-traced",
      "cron-path",
      "functions-glob",
      "missing-asset",
      "unresolved-import",
    ]);
  });

  it("agrees with Vercel on which api/ files are functions", async () => {
    // Edge cases of Vercel's api/**/*.+(js|mjs|ts|tsx) rule; a router change that
    // serves or skips one of them differently shows up as a route-mismatch.
    const extra = ["api/thing.test.ts", "api/types.d.ts", "api/module.mts", "api/_hidden/x.ts", "api/view.tsx"];
    for (const file of extra) write(file, "export const GET = () => new Response('x');\n");
    try {
      const vercel = checkVercelJson(root);
      expect(vercel.problems.filter((problem) => problem.code === "route-mismatch")).toEqual([]);
      expect(vercelApiEntries(root)).toEqual(expect.arrayContaining(["api/thing.test.ts", "api/view.tsx"]));
      expect(vercelApiEntries(root)).not.toEqual(expect.arrayContaining(["api/types.d.ts"]));
    } finally {
      for (const file of extra) rmSync(path.join(root, file), { force: true });
    }
  });

  it("reports a computed import() in project code", async () => {
    const dynamicRoot = mkdtempSync(path.join(os.tmpdir(), "dropflow-deploy-check-dyn-"));
    try {
      mkdirSync(path.join(dynamicRoot, "api"));
      writeFileSync(path.join(dynamicRoot, "package.json"), '{"type":"module"}');
      writeFileSync(
        path.join(dynamicRoot, "api/plugin.ts"),
        "export const GET = async (req: Request) => {\n  const name = new URL(req.url).searchParams.get('p') ?? 'a';\n  return (await import(name)).default as Response;\n};\n",
      );
      const trace = await traceFunctions(dynamicRoot);
      expect(trace.problems).toContainEqual(
        expect.objectContaining({ code: "dynamic-import", file: "api/plugin.ts:3" }),
      );
    } finally {
      rmSync(dynamicRoot, { recursive: true, force: true });
    }
  });

  it("fails the CLI with a report naming the files", () => {
    const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
    const run = spawnSync(tsx, [path.join(ROOT, "dev", "deploy-check.ts"), root], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("api/broken.ts");
    expect(run.stdout).toContain("lib/reader.ts:2");
    expect(run.stdout).toContain("/api/nothing-here");
  });
});

describe("checkVercelJson", () => {
  it("reports a functions key shadowed by an earlier one and a cron target without GET", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "dropflow-deploy-check-json-"));
    try {
      mkdirSync(path.join(root, "api"));
      writeFileSync(path.join(root, "api/a.ts"), "export const POST = () => new Response('a');\n");
      writeFileSync(
        path.join(root, "vercel.json"),
        JSON.stringify({
          functions: { "api/*.ts": { maxDuration: 30 }, "api/a.ts": { maxDuration: 5 } },
          crons: [{ path: "/api/a?run=1", schedule: "*/5 * * * *" }],
        }),
      );
      const vercel = checkVercelJson(root);
      expect(vercel.problems).toEqual([
        expect.objectContaining({ code: "functions-glob", message: expect.stringContaining("never applied") }),
        expect.objectContaining({ code: "cron-path", file: "api/a.ts", message: expect.stringContaining("no GET") }),
      ]);
      expect(vercel.functions).toEqual([{ entry: "api/a.ts", route: "/api/a", glob: "api/*.ts", maxDuration: 30 }]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("globToRegExp (minimatch semantics for vercel.json keys)", () => {
  it.each([
    ["api/**/*.ts", "api/health.ts", true],
    ["api/**/*.ts", "api/stores/index.ts", true],
    ["api/*.ts", "api/stores/index.ts", false],
    ["api/**/*.+(js|mjs|ts|tsx)", "api/a/b.tsx", true],
    ["api/**/*.+(js|mjs|ts|tsx)", "api/a/b.mts", false],
    ["api/{health,stores/index}.ts", "api/stores/index.ts", true],
    ["api/[hs]*.ts", "api/health.ts", true],
    ["api/!(health).ts", "api/health.ts", false],
    ["api/!(health).ts", "api/other.ts", true],
    ["api/!(health).ts", "api/healthy.ts", true],
    ["api/!(*.test).ts", "api/a.test.ts", false],
    ["api/a?.ts", "api/ab.ts", true],
  ])("%s vs %s -> %s", (glob, file, expected) => {
    expect(globToRegExp(glob).test(file)).toBe(expected);
  });
});
