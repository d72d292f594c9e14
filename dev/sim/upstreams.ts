/**
 * The eMAG and SAP simulators as the upstreams of a dev server, the demo or local
 * services mode, for the sources that have no real upstream configured: started
 * in-process, seeded, and described as the Upstreams the runtime syncs.
 */
import type { EmagAccount, SapSettings } from "../../lib/config.js";
import type { Upstreams } from "../../lib/sync/kind.js";
import { type EmagSimulator, startEmagSimulator } from "./emag/server.js";
import { type SapSimulator, startSapSimulator } from "./sap/server.js";

/** The simulators' one account each, as the clients log in to them. */
export const SIM_EMAG_ACCOUNT = { name: "sim", username: "dropflow", password: "dropflow-sim" } as const;
export const SIM_SAP_LOGIN = { companyDb: "SBODEMO", user: "manager", password: "sim-password" } as const;

export interface SimulatedUpstreams {
  emag: EmagSimulator | null;
  sap: SapSimulator | null;
  upstreams: Partial<Upstreams>;
  close(): Promise<void>;
}

export interface SimulatedUpstreamOptions {
  emag: boolean;
  sap: boolean;
  seed?: number;
  /** eMAG offers in the simulator's account (default 2,000). */
  offers?: number;
  /** SAP items (default 2,000). */
  items?: number;
  host?: string;
}

export function emagAccountFor(url: string, limits: { ratePerSecond?: number; ratePerMinute?: number } = {}): EmagAccount {
  return {
    name: SIM_EMAG_ACCOUNT.name,
    platformUrl: `${url}/api-3`,
    username: SIM_EMAG_ACCOUNT.username,
    password: SIM_EMAG_ACCOUNT.password,
    ratePerSecond: limits.ratePerSecond ?? 3,
    ratePerMinute: limits.ratePerMinute ?? 180,
  };
}

export function sapSettingsFor(url: string): SapSettings {
  return { url: `${url}/b1s/v1`, companyDb: SIM_SAP_LOGIN.companyDb, user: SIM_SAP_LOGIN.user, password: SIM_SAP_LOGIN.password };
}

export async function startSimulatedUpstreams(options: SimulatedUpstreamOptions): Promise<SimulatedUpstreams> {
  const seed = options.seed ?? 1;
  const host = options.host ?? "127.0.0.1";
  const emag = options.emag
    ? await startEmagSimulator({
        host,
        seed,
        accounts: [{ username: SIM_EMAG_ACCOUNT.username, password: SIM_EMAG_ACCOUNT.password, offers: options.offers ?? 2_000 }],
      })
    : null;
  let sap: SapSimulator | null = null;
  try {
    sap = options.sap
      ? await startSapSimulator({
          host,
          seed,
          companies: [
            { companyDb: SIM_SAP_LOGIN.companyDb, users: [{ name: SIM_SAP_LOGIN.user, password: SIM_SAP_LOGIN.password }], items: options.items ?? 2_000 },
          ],
        })
      : null;
  } catch (error) {
    await emag?.close();
    throw error;
  }
  return {
    emag,
    sap,
    upstreams: {
      ...(emag ? { emag: [emagAccountFor(emag.url)] } : {}),
      ...(sap ? { sap: sapSettingsFor(sap.url) } : {}),
    },
    async close() {
      await Promise.all([emag?.close(), sap?.close()]);
    },
  };
}
