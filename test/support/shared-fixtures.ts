/**
 * Shared fixtures: real exports (e.g. a Shopee income report) kept outside the
 * repository, in `../shared/fixtures` beside the repository root. The root is found
 * from this file's own location, so the path is the same whatever directory vitest
 * runs in.
 *
 * A test that needs one asks `sharedFixture(name)` for its path (null when absent),
 * skips with `it.skipIf(!path)` / `describe.skipIf(!path)`, passes `NEEDS_SHARED_FIXTURES`
 * as its options, and reads the file only inside the test or behind `if (path)`: never
 * at collection time when it is absent. The vitest globalSetup prints one line with
 * FIXTURES_SKIP_MARKER when the directory is missing (see `fixturesNotice`); CI (.ci/run)
 * greps for the marker and fails, so skipped fixture tests can never pass as green there.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

export const FIXTURES_SKIP_MARKER = "DROPFLOW-SKIPPED-FOR-WANT-OF-FIXTURES";

/** The repository root: two levels above test/support/. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Where the shared fixtures live: `../shared/fixtures` from the repository root. */
export const SHARED_FIXTURES_DIR = path.resolve(REPO_ROOT, "..", "shared", "fixtures");

declare module "vitest" {
  interface TaskMeta {
    /** The test (or every test of the suite) reads a file of SHARED_FIXTURES_DIR. */
    needsSharedFixtures?: boolean;
  }
}

/** Options for `it`/`describe` marking a test as needing shared fixtures, so the run counts it when skipped. */
export const NEEDS_SHARED_FIXTURES = { meta: { needsSharedFixtures: true } } as const;

/** The absolute path of a shared fixture, or null when it (or the whole directory) is absent. */
export function sharedFixture(name: string): string | null {
  const file = path.join(SHARED_FIXTURES_DIR, name);
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

export function sharedFixturesPresent(): boolean {
  return existsSync(SHARED_FIXTURES_DIR) && statSync(SHARED_FIXTURES_DIR).isDirectory();
}

/** The one line printed when the fixtures are missing. */
export function fixturesSkipLine(skipped: number | null): string {
  const count = skipped === null ? "fixture tests" : `${skipped} fixture test${skipped === 1 ? "" : "s"}`;
  return `${FIXTURES_SKIP_MARKER}: shared fixtures not found at ${SHARED_FIXTURES_DIR}: ${count} skipped\n`;
}

/**
 * For the vitest globalSetup: when the shared fixtures are missing, a teardown that
 * prints the one-line notice once per run, after the tests, with the number of tests
 * marked NEEDS_SHARED_FIXTURES that were skipped. Undefined when they are present.
 */
export function fixturesNotice(project: TestProject): (() => Promise<void>) | undefined {
  if (sharedFixturesPresent()) return undefined;
  return async () => {
    let skipped: number | null = null;
    try {
      // vitest's State API (experimental): every test module of the run.
      skipped = 0;
      for (const module of project.vitest.state.getTestModules()) {
        for (const test of module.children.allTests("skipped")) if (test.meta().needsSharedFixtures) skipped++;
      }
    } catch {
      skipped = null; // The count is a nicety; the line itself must always be printed.
    }
    process.stderr.write(fixturesSkipLine(skipped));
  };
}
