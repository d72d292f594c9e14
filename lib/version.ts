import { readFileSync } from "node:fs";

// Read relative to this module so the file tracer ships package.json with every function.
const packageJson = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export const VERSION: string = packageJson.version;
