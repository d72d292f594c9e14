import { defineConfig } from "vitest/config";

/**
 * Suites that start a whole set of local services (several worker processes, their
 * own Postgres, Redis, stand-ins and simulators) run last and one at a time: beside
 * the rest of the suite on two cores they starve each other's workers of CPU.
 */
const EXCLUSIVE = ["test/**/services.test.ts"];

export default defineConfig({
  test: {
    // Starts one real Postgres and one redis-server for the whole run (and stops them, pass or fail).
    globalSetup: ["test/support/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: EXCLUSIVE } },
      {
        extends: true,
        test: { name: "exclusive", include: EXCLUSIVE, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
