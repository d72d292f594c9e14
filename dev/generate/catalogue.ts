/**
 * The supplier catalogue: ~3,000 SKUs with Zipf popularity and log-normal prices.
 *
 * Popularity is Zipf–Mandelbrot (weight 1/(rank+8)): heavy-tailed, but no single
 * SKU takes more than ~2 % of the lines, so the price percentiles a test measures on
 * 20,000 rows do not hinge on where the top three SKUs happened to be priced.
 *
 * Prices, as real shops show them: median ≈ Rp 50,000, p10 ≈ 13,000, p90 ≈ 120,000.
 * No single log-normal has all three (p10 gives σ ≈ 1.05, p90 gives σ ≈ 0.68), so
 * the price is a two-piece log-normal: σ 1.051 below the median and 0.683 above.
 * Prices are placed on the SKUs so that the distribution holds *per order line*
 * (weighted by popularity), not just per SKU: walking the SKUs in a random order,
 * each SKU gets the quantile at the middle of its slice of cumulative popularity.
 * Because that walk is independent of popularity, the per-SKU distribution is the
 * same too.
 */
import { normalQuantile, type Rng } from "./rng.js";

export interface Sku {
  code: string;
  name: string;
  unitPrice: number;
  unitCost: number;
}

const ITEMS = [
  "Kabel Data USB Type C",
  "Casing HP Silikon",
  "Tempered Glass Full Cover",
  "Powerbank 10000mAh",
  "Earphone Bluetooth TWS",
  "Lampu LED Bohlam 12W",
  "Stop Kontak 4 Lubang",
  "Kaos Polos Pria",
  "Kemeja Flanel Kotak",
  "Celana Jogger",
  "Hijab Segi Empat Voal",
  "Tas Selempang Kanvas",
  "Dompet Kulit Lipat",
  "Sepatu Sneakers",
  "Sandal Jepit Karet",
  "Botol Minum 1 Liter",
  "Kotak Makan Bento",
  "Panci Teflon 24cm",
  "Pisau Dapur Set",
  "Spatula Silikon",
  "Rak Bumbu Dapur",
  "Gantungan Baju Stainless",
  "Keset Kaki Microfiber",
  "Sprei Katun Motif",
  "Bantal Leher Travel",
  "Serum Wajah Vitamin C",
  "Masker Wajah Organik",
  "Sabun Cuci Muka",
  "Sisir Rambut Anti Kusut",
  "Mainan Balok Susun Anak",
  "Puzzle Kayu Anak",
  "Buku Tulis A5",
  "Pulpen Gel 0.5mm",
  "Lakban Bening 2 Inch",
  "Obeng Set Magnetik",
  "Senter LED Charge",
  "Payung Lipat Otomatis",
  "Jam Tangan Digital",
  "Kacamata Anti Radiasi",
  "Mouse Wireless Silent",
  "Keyboard Mekanik RGB",
  "Tripod HP 1 Meter",
  "Ring Light 26cm",
  "Kipas Angin Mini USB",
  "Termos Air Panas 500ml",
  "Cetakan Kue Silikon",
  "Toples Kaca Tutup Kayu",
  "Handuk Mandi Jumbo",
];
const ADJECTIVES = [
  "Premium",
  "Original",
  "Murah",
  "Best Seller",
  "Kualitas Ekspor",
  "Anti Slip",
  "Tebal",
  "Import",
  "Grosir",
  "Terlaris",
  "Ready Stock",
  "COD",
];
const VARIANTS = ["Hitam", "Putih", "Merah", "Biru Navy", "Abu-abu", "Coklat", "Pink", "Hijau Army", "All Size", "XL", "M"];

/**
 * A product name. Real names carry commas, quotes, line breaks, semicolons and
 * non-ASCII characters; `\n` stands for a line break and is written with the file's
 * own line ending.
 */
export function productName(rng: Rng, plainOnly = false): string {
  const item = rng.pick(ITEMS);
  const adj = rng.pick(ADJECTIVES);
  const variant = rng.pick(VARIANTS);
  const roll = plainOnly ? 1 : rng.float();
  if (roll < 0.12) return rng.chance(0.5) ? `${item} ${adj}, ${variant}` : `${item}, ${adj}, Warna ${variant}`;
  if (roll < 0.15) return rng.chance(0.5) ? `${item} "${adj}" ${variant}` : `${item} 24" ${variant}`;
  if (roll < 0.165) return `${item} ${adj}\nVarian: ${variant}`;
  if (roll < 0.175) return `${item}; ${variant}`;
  if (roll < 0.195) return rng.pick([`${item} – ${adj} ${variant}`, `★ ${item} ${adj} ★`, `${item} Café ${variant}`]);
  return `${item} ${adj} ${variant}`;
}

export const PRICE_MEDIAN = 50_000;
const SIGMA_LOW = Math.log(PRICE_MEDIAN / 13_000) / 1.2815515655;
const SIGMA_HIGH = Math.log(120_000 / PRICE_MEDIAN) / 1.2815515655;

/** The two-piece log-normal price quantile, rounded to Rp 100. */
export function priceQuantile(p: number): number {
  const z = normalQuantile(p);
  const price = PRICE_MEDIAN * Math.exp(z * (z < 0 ? SIGMA_LOW : SIGMA_HIGH));
  return Math.max(500, Math.round(price / 100) * 100);
}

export class Catalogue {
  readonly skus: Sku[] = [];
  private readonly cumulative: Float64Array;

  constructor(rng: Rng, count = 3000) {
    const popularity = new Float64Array(count);
    const ranks = rng.shuffle(Array.from({ length: count }, (_, i) => i));
    ranks.forEach((rank, sku) => {
      popularity[sku] = 1 / (rank + 1 + 8);
    });
    let total = 0;
    for (const w of popularity) total += w;

    const prices = new Float64Array(count);
    let walked = 0;
    for (const sku of rng.shuffle(Array.from({ length: count }, (_, i) => i))) {
      const w = popularity[sku] as number;
      prices[sku] = priceQuantile((walked + w / 2) / total);
      walked += w;
    }

    const prefixes = ["JKM", "ACC", "HMG", "FSH", "KTC", "BTY", "TOY", "OFC", "TLS", "ELC"];
    for (let i = 0; i < count; i++) {
      const unitPrice = prices[i] as number;
      // Cost 55–85 % of the selling price, to Rp 100, always below it.
      const unitCost = Math.min(unitPrice - 100, Math.max(100, Math.round((unitPrice * rng.uniform(0.55, 0.85)) / 100) * 100));
      this.skus.push({
        code: `${rng.pick(prefixes)}-${String(10_000 + i * 7 + rng.int(7)).padStart(6, "0")}`,
        name: productName(rng),
        unitPrice,
        unitCost,
      });
    }
    this.cumulative = new Float64Array(count);
    let sum = 0;
    for (let i = 0; i < count; i++) {
      sum += popularity[i] as number;
      this.cumulative[i] = sum;
    }
  }

  /** A SKU index drawn by popularity. */
  draw(rng: Rng): number {
    const target = rng.float() * (this.cumulative[this.cumulative.length - 1] as number);
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  sku(index: number): Sku {
    const sku = this.skus[index];
    if (!sku) throw new Error(`no SKU ${index}`);
    return sku;
  }
}
