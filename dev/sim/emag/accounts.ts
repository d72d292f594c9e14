/**
 * The simulated seller accounts: credentials, IP allow-list and offers, each account
 * generated from its own stream of the seed, so adding an account does not change
 * the offers of the others.
 */
import { createPrng, deriveSeed, type Prng } from "../prng.js";
import { isPlainObject, onlyKeys, SimInputError } from "./config.js";
import { generateOffers, OfferFactory, type OfferStore } from "./offers.js";

export interface EmagSimAccountSeed {
  username: string;
  password: string;
  offers: number;
  /** Empty or absent: any IP is allowed. */
  allowedIps?: string[];
  /** Default "RON". */
  currency?: string;
}

export interface AccountState {
  seed: EmagSimAccountSeed;
  store: OfferStore;
  factory: OfferFactory;
  mutationPrng: Prng;
  /** The highest id of the last non-empty read page; inserts go below it. */
  lastServedId: number | undefined;
}

export const DEFAULT_ACCOUNT: EmagSimAccountSeed = { username: "dropflow", password: "dropflow-sim", offers: 2000 };
/** Generation takes about 3 µs an offer and blocks the event loop: keep a hostile seed from stalling the server. */
const MAX_OFFERS_PER_ACCOUNT = 200_000;
const MAX_OFFERS_TOTAL = 500_000;
const MAX_ACCOUNTS = 100;

export function checkSeed(seed: unknown): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) throw new SimInputError("seed must be an integer");
  return seed;
}

export function checkAccounts(accounts: unknown): EmagSimAccountSeed[] {
  if (!Array.isArray(accounts) || accounts.length === 0 || accounts.length > MAX_ACCOUNTS) {
    throw new SimInputError(`accounts must be an array of 1 to ${MAX_ACCOUNTS} accounts`);
  }
  const seen = new Set<string>();
  let total = 0;
  return accounts.map((account: unknown, i) => {
    const where = `accounts[${i}]`;
    if (!isPlainObject(account)) throw new SimInputError(`${where} must be an object`);
    onlyKeys(account, ["username", "password", "offers", "allowedIps", "currency"], where);
    const { username, password, offers, allowedIps, currency } = account;
    // Basic auth splits at the first colon, so a username cannot contain one.
    if (typeof username !== "string" || username === "" || username.length > 200 || username.includes(":")) {
      throw new SimInputError(`${where}.username must be a non-empty string without ":"`);
    }
    if (seen.has(username)) throw new SimInputError(`${where}.username ${JSON.stringify(username)} is listed twice`);
    seen.add(username);
    if (typeof password !== "string") throw new SimInputError(`${where}.password must be a string`);
    if (typeof offers !== "number" || !Number.isInteger(offers) || offers < 0 || offers > MAX_OFFERS_PER_ACCOUNT) {
      throw new SimInputError(`${where}.offers must be an integer from 0 to ${MAX_OFFERS_PER_ACCOUNT}`);
    }
    total += offers;
    if (total > MAX_OFFERS_TOTAL) throw new SimInputError(`accounts may hold at most ${MAX_OFFERS_TOTAL} offers in all`);
    const checked: EmagSimAccountSeed = { username, password, offers };
    if (allowedIps !== undefined) {
      if (!Array.isArray(allowedIps) || !allowedIps.every((ip) => typeof ip === "string")) {
        throw new SimInputError(`${where}.allowedIps must be an array of strings`);
      }
      checked.allowedIps = [...(allowedIps as string[])];
    }
    if (currency !== undefined) {
      if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency)) throw new SimInputError(`${where}.currency must be a code like "RON"`);
      checked.currency = currency;
    }
    return checked;
  });
}

export function buildAccounts(seed: number, accounts: readonly EmagSimAccountSeed[]): Map<string, AccountState> {
  const states = new Map<string, AccountState>();
  for (const account of accounts) {
    const prng = createPrng(deriveSeed(seed, `offers:${account.username}`));
    const factory = new OfferFactory(prng, account.currency ?? "RON");
    states.set(account.username, {
      seed: account,
      store: generateOffers(factory, prng, account.offers),
      factory,
      mutationPrng: createPrng(deriveSeed(seed, `mutations:${account.username}`)),
      lastServedId: undefined,
    });
  }
  return states;
}
