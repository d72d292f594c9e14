import { PURCHASE_COLUMNS } from "../../lib/imports/csv/headers.js";

/** Jakmall purchase exports for import tests: one valid order per row, order codes from `firstOrder`. */
export const PURCHASE_HEADER = PURCHASE_COLUMNS.map((column) => column.header).join(",");

export function purchaseRow(i: number, store = "Toko Test"): string {
  return (
    `${i},03 March 2025 14:05:09,Pesanan selesai,${700000 + i},${500000 + i},SKU-${i % 97},"Kabel, USB tipe C ${i}",` +
    `25000,2,50000,0,2000,52000,40000,80000,30000,ops,Shopee,${store},INV${String(i).padStart(9, "0")}UP,` +
    "Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat"
  );
}

/** `rows` orders numbered from `firstOrder`. */
export function purchasesCsv(rows: number, firstOrder = 1): string {
  const lines = [PURCHASE_HEADER];
  for (let i = firstOrder; i < firstOrder + rows; i += 1) lines.push(purchaseRow(i));
  return lines.join("\r\n");
}

/** About `bytes` bytes of orders. */
export function purchasesCsvOfSize(bytes: number): { text: string; rows: number } {
  const lines = [PURCHASE_HEADER];
  let size = PURCHASE_HEADER.length;
  for (let i = 1; size < bytes; i += 1) {
    const line = purchaseRow(i);
    lines.push(line);
    size += line.length + 2;
  }
  return { text: lines.join("\r\n"), rows: lines.length - 1 };
}
