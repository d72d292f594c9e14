// Moved to dev/servers/postgres.ts (local services mode and benchmarks use it too).
export * from "../../dev/servers/postgres.js";
