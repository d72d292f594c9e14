/**
 * The simulator's offer data: seeded generation of realistic `product_offer/read`
 * items (fields of docs/local-services.md) and the store that the mutations edit. Values
 * are plausible rather than real: fictional brands, prices without VAT derived from a
 * gross price ending in .99 (hence 4 decimals), EANs with a valid check digit.
 */
import type { Prng } from "../prng.js";

export interface EmagOffer {
  id: number;
  part_number_key: string;
  part_number: string;
  name: string;
  brand: string;
  description: string;
  url: string;
  category_id: number;
  sale_price: number;
  recommended_price: number;
  min_sale_price: number;
  max_sale_price: number;
  currency: string;
  vat_id: number;
  warranty: number;
  ean: string[];
  general_stock: number;
  estimated_stock: number;
  stock: Array<{ warehouse_id: number; value: number }>;
  handling_time: Array<{ warehouse_id: number; value: number }>;
  status: 0 | 1 | 2;
  offer_validation_status: { value: 1 | 2; description: string };
  validation_status: Array<{ value: number; description: string; errors: null }>;
  images: Array<{ url: string; display_type: 0 | 1 | 2 }>;
  ownership: 1 | 2;
  number_of_offers: number;
  buy_button_rank: number;
}

interface ProductLine {
  category: number;
  nouns: readonly string[];
  brands: readonly string[];
  variants: readonly (readonly string[])[];
  /** Gross price range (with VAT) in RON-like units. */
  price: readonly [number, number];
}

const LINES: readonly ProductLine[] = [
  {
    category: 1612,
    nouns: ["Wireless Headphones", "Bluetooth Earbuds", "Gaming Headset", "Over-Ear Headphones"],
    brands: ["Sonavo", "Audiqo", "Kirell", "Bassline"],
    variants: [
      ["Black", "White", "Midnight Blue", "Graphite"],
      ["Active Noise Cancelling", "30h battery", "USB-C fast charge", "Multipoint"],
    ],
    price: [59, 1299],
  },
  {
    category: 2340,
    nouns: ["Espresso Machine", "Drip Coffee Maker", "Coffee Grinder", "Milk Frother"],
    brands: ["Caffora", "Brewline", "Domestika", "Tazzina"],
    variants: [
      ["Stainless Steel", "Black", "Silver"],
      ["15 bar", "1.2 L", "1450 W", "with timer"],
    ],
    price: [89, 3999],
  },
  {
    category: 3105,
    nouns: ["Cordless Drill", "Impact Driver", "Angle Grinder", "Jigsaw"],
    brands: ["Nordkraft", "Torqon", "Ferrowerk", "Bricomax"],
    variants: [
      ["18 V", "12 V", "20 V Brushless"],
      ["2 batteries", "with case", "body only", "with 50-piece bit set"],
    ],
    price: [119, 2499],
  },
  {
    category: 2871,
    nouns: ["Robot Vacuum Cleaner", "Cordless Stick Vacuum", "Bagless Vacuum Cleaner", "Wet and Dry Vacuum"],
    brands: ["Aspiro", "Cleanwave", "Domestika", "Vortexa"],
    variants: [
      ["White", "Grey", "Black"],
      ["2000 Pa", "HEPA filter", "LiDAR navigation", "60 min runtime"],
    ],
    price: [249, 3999],
  },
  {
    category: 1187,
    nouns: ["Smartwatch", "Fitness Tracker", "Sports Watch"],
    brands: ["Pulsera", "Kirell", "Tempora"],
    variants: [
      ["41 mm", "45 mm", "46 mm"],
      ["Silicone strap", "Steel bracelet", "GPS", "AMOLED"],
    ],
    price: [99, 2199],
  },
  {
    category: 1450,
    nouns: ["Phone Case", "Tempered Glass Screen Protector", "USB-C Cable", "Wall Charger"],
    brands: ["Armorix", "Cablo", "Voltaris"],
    variants: [
      ["Transparent", "Black", "1 m", "2 m"],
      ["20 W", "65 W GaN", "MagSafe compatible", "pack of 2"],
    ],
    price: [14.99, 249],
  },
  {
    category: 4410,
    nouns: ["Office Chair", "Gaming Chair", "Standing Desk", "Monitor Arm"],
    brands: ["Ergolux", "Sedia", "Deskfort"],
    variants: [
      ["Black", "Grey", "White"],
      ["mesh back", "adjustable armrests", "120 x 60 cm", "electric"],
    ],
    price: [149, 2899],
  },
  {
    category: 5120,
    nouns: ["Bed Linen Set", "Duvet", "Memory Foam Pillow", "Fitted Sheet"],
    brands: ["Somnia", "Casa Linna", "Dormio"],
    variants: [
      ["200 x 220 cm", "160 x 200 cm", "140 x 200 cm"],
      ["100% cotton", "satin", "hypoallergenic", "grey stripes"],
    ],
    price: [39, 699],
  },
  {
    category: 6230,
    nouns: ["Building Blocks Set", "Remote Control Car", "Board Game", "Plush Toy"],
    brands: ["Jucaria", "Playmo Kids", "Brickon"],
    variants: [
      ["3+ years", "6+ years", "8+ years"],
      ["450 pieces", "rechargeable", "family edition", "30 cm"],
    ],
    price: [19.99, 899],
  },
  {
    category: 2210,
    nouns: ["Air Fryer", "Blender", "Electric Kettle", "Toaster"],
    brands: ["Domestika", "Kuchenhaus", "Caffora", "Vitalmix"],
    variants: [
      ["5.5 L", "1.7 L", "2 slices", "1000 W"],
      ["Black", "Stainless Steel", "digital display", "BPA free"],
    ],
    price: [69, 1199],
  },
  {
    category: 3390,
    nouns: ["27\" Monitor", "24\" Monitor", "Portable SSD", "Mechanical Keyboard", "Wireless Mouse"],
    brands: ["Pixora", "Datanex", "Keyforge", "Voltaris"],
    variants: [
      ["IPS", "1 TB", "2 TB", "QHD 165 Hz", "Full HD"],
      ["USB-C", "RGB", "silent switches", "height adjustable"],
    ],
    price: [49, 4699],
  },
  {
    category: 7015,
    nouns: ["Running Shoes", "Hiking Boots", "Backpack", "Yoga Mat"],
    brands: ["Stridea", "Montano", "Flexa"],
    variants: [
      ["size 42", "size 39", "30 L", "6 mm"],
      ["waterproof", "breathable", "non-slip", "lightweight"],
    ],
    price: [49, 899],
  },
];

const PNK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const OFFER_VALIDATION = { 1: "Valid", 2: "Invalid price" } as const;
/** eMAG's validation_status 9: the documentation was approved, the offer may sell. */
const VALIDATION_APPROVED = { value: 9, description: "Approved documentation", errors: null } as const;
const VAT_RATE = 1.19;

/** Makes offers for one account; keeps the part-number sequence so inserted offers stay unique. */
export class OfferFactory {
  private nextPartNumber = 100_001;

  constructor(
    private readonly prng: Prng,
    private readonly currency: string,
  ) {}

  make(id: number): EmagOffer {
    const prng = this.prng;
    const line = prng.pick(LINES);
    const brand = prng.pick(line.brands);
    const noun = prng.pick(line.nouns);
    const model = `${String.fromCharCode(65 + prng.int(0, 25))}${prng.int(1, 9)}${prng.int(0, 9)}${prng.int(0, 9)}`;
    const details = line.variants.map((choices) => prng.pick(choices));
    const name = `${brand} ${noun} ${model}, ${details.join(", ")}`;
    const pnk = this.partNumberKey();
    const [low, high] = line.price;
    // Log-uniform gross price ending in .99 (or .90), then without VAT: 4 decimals.
    const gross = Math.max(low, Math.floor(Math.exp(Math.log(low) + prng.next() * (Math.log(high) - Math.log(low))))) +
      (prng.next() < 0.8 ? 0.99 : 0.9);
    const salePrice = round4(gross / VAT_RATE);
    const recommended = round4(salePrice * (1 + 0.05 + prng.next() * 0.35));
    const generalStock = prng.next() < 0.12 ? 0 : prng.int(1, 200);
    const reserved = generalStock === 0 ? 0 : Math.min(generalStock, prng.next() < 0.8 ? 0 : prng.int(1, 5));
    const statusRoll = prng.next();
    const status: 0 | 1 | 2 = statusRoll < 0.9 ? 1 : statusRoll < 0.98 ? 0 : 2;
    const validation: 1 | 2 = prng.next() < 0.95 ? 1 : 2;
    const slug = name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    const imageCount = prng.int(1, 4);
    const images: EmagOffer["images"] = [];
    for (let i = 0; i < imageCount; i++) {
      images.push({ url: `https://s13emagst.akamaized.net/products/sim/${pnk}/images/${i + 1}.jpg`, display_type: i === 0 ? 1 : 2 });
    }
    const numberOfOffers = prng.int(1, 12);
    return {
      id,
      part_number_key: pnk,
      part_number: `PN-${this.nextPartNumber++}`,
      name,
      brand,
      description: `<p>${noun} by ${brand}, model ${model}: ${details.join(", ")}.</p>`,
      url: `https://www.emag.ro/${slug}/pd/${pnk}/`,
      category_id: line.category,
      sale_price: salePrice,
      recommended_price: recommended,
      min_sale_price: round4(salePrice * 0.8),
      max_sale_price: round4(recommended * 1.2),
      currency: this.currency,
      vat_id: prng.next() < 0.95 ? 1 : 2,
      warranty: prng.pick([12, 24, 24, 24, 36]),
      ean: [this.ean()],
      general_stock: generalStock,
      estimated_stock: generalStock - reserved,
      stock: [{ warehouse_id: 1, value: generalStock }],
      handling_time: [{ warehouse_id: 1, value: prng.int(0, 3) }],
      status,
      offer_validation_status: { value: validation, description: OFFER_VALIDATION[validation] },
      validation_status: [{ ...VALIDATION_APPROVED }],
      images,
      ownership: prng.next() < 0.7 ? 1 : 2,
      number_of_offers: numberOfOffers,
      buy_button_rank: prng.int(1, numberOfOffers),
    };
  }

  private partNumberKey(): string {
    let key = "D5";
    for (let i = 0; i < 7; i++) key += PNK_ALPHABET[Math.floor(this.prng.next() * PNK_ALPHABET.length)];
    return key;
  }

  /** EAN-13 under Romania's GS1 prefix 594, with its check digit. */
  private ean(): string {
    let digits = "594";
    for (let i = 0; i < 9; i++) digits += String(this.prng.int(0, 9));
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 1 : 3);
    return digits + String((10 - (sum % 10)) % 10);
  }
}

export function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/**
 * One account's offers. The Map keeps insertion order (orderMode "insertion"); the id
 * order is cached and rebuilt only after an insert or a delete.
 */
export class OfferStore {
  private readonly byKey = new Map<number, EmagOffer>();
  private sorted: EmagOffer[] | null = null;

  get size(): number {
    return this.byKey.size;
  }

  has(id: number): boolean {
    return this.byKey.has(id);
  }

  add(offer: EmagOffer): void {
    this.byKey.set(offer.id, offer);
    this.sorted = null;
  }

  remove(id: number): boolean {
    const removed = this.byKey.delete(id);
    if (removed) this.sorted = null;
    return removed;
  }

  byId(): readonly EmagOffer[] {
    this.sorted ??= [...this.byKey.values()].sort((a, b) => a.id - b.id);
    return this.sorted;
  }

  insertionOrder(): EmagOffer[] {
    return [...this.byKey.values()];
  }

  /** A free id below `belowId` (between existing ids, else under the lowest); null when none is left. */
  freeIdBelow(belowId: number, prng: Prng): number | null {
    const ids = this.byId();
    const lowest = ids[0]?.id ?? belowId;
    const floor = Math.max(1, Math.min(lowest, belowId) - 50);
    if (belowId - 1 >= floor) {
      for (let attempt = 0; attempt < 32; attempt++) {
        const candidate = prng.int(floor, belowId - 1);
        if (!this.byKey.has(candidate)) return candidate;
      }
    }
    for (let candidate = belowId - 1; candidate >= 1; candidate--) {
      if (!this.byKey.has(candidate)) return candidate;
    }
    return null;
  }
}

/** `count` offers with increasing ids from near 1000, mostly consecutive, sometimes with small gaps. */
export function generateOffers(factory: OfferFactory, prng: Prng, count: number): OfferStore {
  const store = new OfferStore();
  let id = 1000 + prng.int(0, 20);
  for (let i = 0; i < count; i++) {
    store.add(factory.make(id));
    id += prng.next() < 0.8 ? 1 : prng.int(2, 6);
  }
  return store;
}
