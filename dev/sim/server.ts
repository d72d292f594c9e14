/**
 * `npm run sim`: the eMAG and SAP simulators on their own, until Ctrl-C. Prints the
 * settings that point dropflow at them (EMAG_ACCOUNTS, SAP_*), so a dev server or a
 * worker in another process syncs from them. Each has its control API under /__sim/.
 *
 *   tsx dev/sim/server.ts [--offers 2000] [--items 2000] [--seed 1] [--only emag|sap]
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { emagAccountFor, sapSettingsFor, startSimulatedUpstreams } from "./upstreams.js";

/** The environment that points dropflow at simulators on these URLs. */
export function simulatorEnv(urls: { emag?: string | null; sap?: string | null }, limits: { ratePerSecond?: number; ratePerMinute?: number } = {}) {
  const env: Record<string, string> = {};
  if (urls.emag) {
    const account = emagAccountFor(urls.emag, limits);
    env.EMAG_ACCOUNTS = JSON.stringify([
      {
        name: account.name,
        platform_url: account.platformUrl,
        username: account.username,
        password: account.password,
        rate_per_s: account.ratePerSecond,
        rate_per_min: account.ratePerMinute,
      },
    ]);
  }
  if (urls.sap) {
    const sap = sapSettingsFor(urls.sap);
    Object.assign(env, { SAP_URL: sap.url, SAP_COMPANY_DB: sap.companyDb, SAP_USER: sap.user, SAP_PASSWORD: sap.password });
  }
  return env;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      offers: { type: "string", default: "2000" },
      items: { type: "string", default: "2000" },
      seed: { type: "string", default: "1" },
      only: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
    },
  });
  if (values.only !== undefined && values.only !== "emag" && values.only !== "sap") {
    process.stderr.write("--only must be emag or sap\n");
    process.exit(2);
  }
  const sims = await startSimulatedUpstreams({
    emag: values.only !== "sap",
    sap: values.only !== "emag",
    offers: Number(values.offers),
    items: Number(values.items),
    seed: Number(values.seed),
    host: values.host,
  });
  const env = simulatorEnv({ emag: sims.emag?.url, sap: sims.sap?.url });
  const lines = ["dropflow simulators (control API under /__sim/ on each):"];
  if (sims.emag) lines.push(`  EMAG_SIM_URL=${sims.emag.url}`);
  if (sims.sap) lines.push(`  SAP_SIM_URL=${sims.sap.url}`);
  lines.push("point dropflow at them with:", ...Object.entries(env).map(([name, value]) => `  ${name}=${name === "EMAG_ACCOUNTS" ? `'${value}'` : value}`));
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      sims.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`simulators: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
}
