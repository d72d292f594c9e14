/**
 * Scripted faults: "the next N matching calls get this answer", so that retry and
 * timeout tests do not depend on chance. The first pending fault that matches a call
 * is used (and counted down); faults never match a request refused before it reached
 * the API (429, bad credentials, IP not allowed).
 */
import { EMAG_ROUTES, type EmagRoute, delay, isPlainObject, oneOf, onlyKeys, SimInputError, status } from "./config.js";

export type EmagFaultKind = "http" | "isError" | "empty_body" | "invalid_json" | "no_isError" | "empty_results" | "hang" | "slow";
const FAULT_KINDS: readonly EmagFaultKind[] = ["http", "isError", "empty_body", "invalid_json", "no_isError", "empty_results", "hang", "slow"];

export interface EmagFault {
  /** Default "*" (any API route). */
  route?: EmagRoute | "*";
  /** Username; default any. */
  account?: string;
  /** currentPage; default any. A call whose body does not parse matches only faults without a page. */
  page?: number;
  times: number;
  respond: {
    /** For kind "http" (default 500); a status without a kind means kind "http". */
    status?: number;
    /** Default "http". */
    kind?: EmagFaultKind;
    /** Extra wait before answering; for "slow", the whole wait (default latency.slowMs). */
    delayMs?: number;
    /** The message of an isError answer or of an HTTP error's JSON body. */
    message?: string;
  };
}

const FAULT_ROUTES: readonly (EmagRoute | "*")[] = [...EMAG_ROUTES, "*"];
const MAX_PENDING_FAULTS = 10_000;

export class FaultQueue {
  private pending: EmagFault[] = [];

  add(faults: unknown): void {
    if (!Array.isArray(faults)) throw new SimInputError("faults must be an array");
    const checked = faults.map((fault: unknown, i) => checkFault(fault, `faults[${i}]`));
    if (this.pending.length + checked.length > MAX_PENDING_FAULTS) {
      throw new SimInputError(`at most ${MAX_PENDING_FAULTS} faults may be pending`);
    }
    this.pending.push(...checked);
  }

  /** Takes one use of the first fault matching the call, if any. */
  take(route: string, account: string | null, page: number | undefined): EmagFault["respond"] | null {
    const index = this.pending.findIndex(
      (fault) =>
        (fault.route === undefined || fault.route === "*" || fault.route === route) &&
        (fault.account === undefined || fault.account === account) &&
        (fault.page === undefined || fault.page === page),
    );
    if (index === -1) return null;
    const fault = this.pending[index] as EmagFault;
    fault.times -= 1;
    if (fault.times <= 0) this.pending.splice(index, 1);
    return fault.respond;
  }

  list(): EmagFault[] {
    return structuredClone(this.pending);
  }

  clear(): void {
    this.pending = [];
  }
}

function checkFault(fault: unknown, where: string): EmagFault {
  if (!isPlainObject(fault)) throw new SimInputError(`${where} must be an object`);
  onlyKeys(fault, ["route", "account", "page", "times", "respond"], where);
  const checked: EmagFault = { times: 0, respond: {} };
  if (fault.route !== undefined) {
    oneOf(fault.route, FAULT_ROUTES, `${where}.route`);
    checked.route = fault.route;
  }
  if (fault.account !== undefined) {
    if (typeof fault.account !== "string") throw new SimInputError(`${where}.account must be a username`);
    checked.account = fault.account;
  }
  if (fault.page !== undefined) {
    if (typeof fault.page !== "number" || !Number.isSafeInteger(fault.page) || fault.page < 1) {
      throw new SimInputError(`${where}.page must be a positive integer`);
    }
    checked.page = fault.page;
  }
  if (typeof fault.times !== "number" || !Number.isInteger(fault.times) || fault.times < 1 || fault.times > 1_000_000) {
    throw new SimInputError(`${where}.times must be an integer from 1 to 1000000`);
  }
  checked.times = fault.times;
  const respond = fault.respond;
  if (!isPlainObject(respond)) throw new SimInputError(`${where}.respond must be an object`);
  onlyKeys(respond, ["status", "kind", "delayMs", "message"], `${where}.respond`);
  if (respond.status !== undefined) {
    status(respond.status, `${where}.respond.status`);
    checked.respond.status = respond.status;
  }
  if (respond.kind !== undefined) {
    oneOf(respond.kind, FAULT_KINDS, `${where}.respond.kind`);
    checked.respond.kind = respond.kind;
  }
  if (respond.delayMs !== undefined) {
    delay(respond.delayMs, `${where}.respond.delayMs`);
    checked.respond.delayMs = respond.delayMs;
  }
  if (respond.message !== undefined) {
    if (typeof respond.message !== "string") throw new SimInputError(`${where}.respond.message must be a string`);
    checked.respond.message = respond.message;
  }
  return checked;
}
