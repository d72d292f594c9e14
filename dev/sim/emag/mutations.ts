/**
 * Data changes between page requests (docs/local-services.md): offset paging over
 * live data shifts later pages, so inserts below the last served id produce
 * duplicates and deletes produce misses; status flips move offers across a status
 * filter; price and stock changes test last-write-wins.
 */
import type { Prng } from "../prng.js";
import { countOf, type EmagMutationOp, isPlainObject, MUTATION_OPS, oneOf, onlyKeys, SimInputError } from "./config.js";
import { type EmagOffer, type OfferFactory, type OfferStore, round4 } from "./offers.js";

export interface EmagMutation {
  op: EmagMutationOp;
  count: number;
  /** insert only: new ids go below this one (default: below the last id served to the account). */
  belowId?: number;
}

export function checkMutations(ops: unknown): EmagMutation[] {
  if (!Array.isArray(ops)) throw new SimInputError("ops must be an array");
  return ops.map((op: unknown, i) => {
    const where = `ops[${i}]`;
    if (!isPlainObject(op)) throw new SimInputError(`${where} must be an object`);
    onlyKeys(op, ["op", "count", "belowId"], where);
    oneOf(op.op, MUTATION_OPS, `${where}.op`);
    countOf(op.count, `${where}.count`);
    const checked: EmagMutation = { op: op.op, count: op.count };
    if (op.belowId !== undefined) {
      if (op.op !== "insert") throw new SimInputError(`${where}.belowId applies to insert only`);
      if (typeof op.belowId !== "number" || !Number.isSafeInteger(op.belowId) || op.belowId < 2) {
        throw new SimInputError(`${where}.belowId must be an integer of at least 2`);
      }
      checked.belowId = op.belowId;
    }
    return checked;
  });
}

export function applyMutation(store: OfferStore, factory: OfferFactory, prng: Prng, mutation: EmagMutation, defaultBelowId: number): void {
  const { op, count } = mutation;
  if (count === 0) return;
  if (op === "insert") {
    const belowId = mutation.belowId ?? defaultBelowId;
    for (let i = 0; i < count; i++) {
      const id = store.freeIdBelow(belowId, prng);
      if (id === null) return;
      store.add(factory.make(id));
    }
    return;
  }
  const chosen = sample(store.byId(), count, prng);
  for (const offer of chosen) {
    switch (op) {
      case "delete":
        store.remove(offer.id);
        break;
      case "flip_status":
        offer.status = offer.status === 1 ? (prng.next() < 0.8 ? 0 : 2) : 1;
        break;
      case "change_price":
        changePrice(offer, 0.8 + prng.next() * 0.4);
        break;
      case "change_stock":
        changeStock(offer, prng.next() < 0.15 ? 0 : prng.int(1, 200));
        break;
    }
  }
}

function changePrice(offer: EmagOffer, factor: number): void {
  offer.sale_price = round4(offer.sale_price * factor);
  offer.min_sale_price = Math.min(offer.min_sale_price, round4(offer.sale_price * 0.8));
  offer.max_sale_price = Math.max(offer.max_sale_price, round4(offer.sale_price * 1.2));
}

function changeStock(offer: EmagOffer, stock: number): void {
  offer.general_stock = stock;
  offer.estimated_stock = stock;
  offer.stock = [{ warehouse_id: 1, value: stock }];
}

/** Up to `count` distinct items (a partial Fisher–Yates over a copy). */
function sample<T>(items: readonly T[], count: number, prng: Prng): T[] {
  const copy = items.slice();
  const take = Math.min(count, copy.length);
  for (let i = 0; i < take; i++) {
    const j = prng.int(i, copy.length - 1);
    const tmp = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = tmp;
  }
  return copy.slice(0, take);
}
