#!/usr/bin/env node
// The `dropflow` command (docs/cli.md). The CLI is TypeScript like the rest of dropflow:
// tsx (a runtime dependency) compiles it as it loads, from a clone and from an install.
import { register } from "tsx/esm/api";

register();
await import("../lib/cli/main.ts");
