// Moved to dev/servers/processes.ts (local services mode and benchmarks use it too).
export * from "../../dev/servers/processes.js";
