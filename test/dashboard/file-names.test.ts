/**
 * The browser makes its upload keys itself (public/app/file-names.js), and POST
 * /api/uploads refuses a key whose name is not what lib/storage's sanitiseFileName()
 * makes of it. Both must agree on every name: these run the page's module in Node
 * beside the server's function.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { importKeyFileName, sanitiseFileName } from "../../lib/storage/keys.js";

interface FileNamesModule {
  sanitiseFileName(name: string): string;
  newImportKey(name: string): string;
}

const load = async () =>
  (await import(pathToFileURL(path.resolve(import.meta.dirname, "../../public/app/file-names.js")).href)) as FileNamesModule;

const NAMES = [
  "orders.csv",
  "Orders March 2025.csv",
  "C:\\Users\\seller\\Desktop\\pesanan (1).csv",
  "/home/seller/exports/shopee income.CSV",
  "..csv",
  "...",
  ".hidden.csv",
  "Ștefan și Ţară — raport.csv",
  "Pesanan Dikirim – Toko Makmur (final) (2).csv",
  "=HYPERLINK(\"x\").csv",
  "<img src=x onerror=alert(1)>.csv",
  "a".repeat(300) + ".csv",
  "report." + "x".repeat(40),
  "名前.csv",
  "🙂 orders 🙂.tsv",
  "-_-.csv",
  "file",
  "",
  "a__b--c..d.csv",
];

describe("the page's upload keys", () => {
  it("name each file as lib/storage's sanitiseFileName() does", async () => {
    const page = await load();
    for (const name of NAMES) expect(page.sanitiseFileName(name), name).toBe(sanitiseFileName(name));
  });

  it("agree on random names built from awkward characters", async () => {
    const page = await load();
    const alphabet = ["a", "Z", "9", ".", "_", "-", " ", "/", "\\", "é", "ș", "\u0301", "(", ")", "=", "名", "🙂", "%", "#", "?"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 2000; i += 1) {
      const length = next() % 40;
      const name = Array.from({ length }, () => alphabet[next() % alphabet.length]).join("");
      expect(page.sanitiseFileName(name), JSON.stringify(name)).toBe(sanitiseFileName(name));
    }
  });

  it("makes keys the upload route accepts", async () => {
    const page = await load();
    for (const name of NAMES) {
      const key = page.newImportKey(name);
      expect(importKeyFileName(key), key).toBe(sanitiseFileName(name));
    }
  });
});
