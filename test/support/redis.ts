// Moved to dev/servers/redis.ts (local services mode and benchmarks use it too).
export * from "../../dev/servers/redis.js";
