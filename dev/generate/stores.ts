/**
 * The seller's shops. Weights are skewed like real sellers' (55/25/12/5/3 % for five
 * shops; fewer or more shops take the head of the list, renormalised). Every shop
 * sells on Shopee: the settlement files are Shopee income reports, so a Tokopedia
 * shop would only add purchases that can never be settled.
 */
import { type Rng } from "./rng.js";

export interface Store {
  name: string;
  /** The Shopee seller username the income report names in its preamble. */
  username: string;
  channel: string;
  weight: number;
  operators: string[];
}

const NAMES = [
  "Toko Makmur Jaya",
  "Berkah Gadget Store",
  "Sinar Rumah Tangga",
  "Dapur Bunda Official",
  "Anak Kos Serba Ada",
  "Gudang Hobi Nusantara",
  "Rumah Cantik Shop",
  "Kios Elektronik Murah",
  "Lapak Sejahtera Abadi",
];
const WEIGHTS = [55, 25, 12, 5, 3, 2];
const OPERATORS = ["Rina", "Budi", "Sari", "Andi", "Dewi", "Agus", "Putri", "Yoga"];

export function makeStores(rng: Rng, count: number): Store[] {
  const names = rng.shuffle([...NAMES]).slice(0, count);
  const weights = WEIGHTS.slice(0, count);
  const total = weights.reduce((a, b) => a + b, 0);
  return names.map((name, i) => {
    const slug = name.toLowerCase().replace(/[^a-z]+/g, "");
    return {
      name,
      username: `${slug.slice(0, 12)}${rng.pick([".id", "_official", "88", "store", ""])}`,
      channel: "Shopee",
      weight: (weights[i] as number) / total,
      operators: rng.shuffle([...OPERATORS]).slice(0, 2 + rng.int(2)),
    };
  });
}

/**
 * The shop name as a careless export spells it: other case or extra spaces. The
 * importer must fold it into the same shop (trim, collapse runs of spaces, compare
 * case-insensitively).
 */
export function misspell(rng: Rng, name: string): string {
  switch (rng.int(5)) {
    case 0:
      return name.toUpperCase();
    case 1:
      return name.toLowerCase();
    case 2:
      return ` ${name}`;
    case 3:
      return `${name}  `;
    default:
      return name.replace(" ", "  ");
  }
}

/** The key under which spellings of one shop fold together. */
export const storeKey = (name: string) => name.trim().replace(/\s+/g, " ").toLowerCase();
