import { describe, expect, it } from "vitest";
import {
  InvalidObjectKeyError,
  MAX_FILE_NAME_LENGTH,
  MAX_KEY_BYTES,
  newImportKey,
  sanitiseFileName,
  validateKeyPrefix,
  validateObjectKey,
} from "../../lib/storage/index.js";
import { REFUSED_KEYS } from "../support/blob.js";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

describe("object keys", () => {
  it("gives two uploads of the same file name two keys under imports/<uuid>/", () => {
    const first = newImportKey("orders.csv");
    const second = newImportKey("orders.csv");
    expect(first).not.toBe(second);
    for (const key of [first, second]) expect(key).toMatch(new RegExp(`^imports/${UUID}/orders\\.csv$`));
    const many = new Set(Array.from({ length: 1000 }, () => newImportKey("orders.csv")));
    expect(many.size).toBe(1000);
  });

  it("sanitises file names from any OS to a readable, safe last segment", () => {
    expect(sanitiseFileName("orders.csv")).toBe("orders.csv");
    expect(sanitiseFileName("../../etc/passwd")).toBe("passwd");
    expect(sanitiseFileName("C:\\Users\\ana\\Desktop\\Comenzi ianuarie (1).csv")).toBe("Comenzi_ianuarie_1.csv");
    expect(sanitiseFileName("comenzi_ăîșț_ÂÎȘȚ.csv")).toBe("comenzi_aist_AIST.csv");
    expect(sanitiseFileName(".hidden")).toBe("hidden");
    expect(sanitiseFileName("..")).toBe("file");
    expect(sanitiseFileName("")).toBe("file");
    expect(sanitiseFileName("订单.csv")).toBe("file.csv");
    expect(sanitiseFileName("a\u0000b\nc.csv")).toBe("a_b_c.csv");
    expect(sanitiseFileName("report..final...csv")).toBe("report.final.csv");
    const long = sanitiseFileName(`${"x".repeat(500)}.csv`);
    expect(long).toHaveLength(MAX_FILE_NAME_LENGTH);
    expect(long.endsWith(".csv")).toBe(true);
    expect(newImportKey("../../etc/passwd")).toMatch(new RegExp(`^imports/${UUID}/passwd$`));
  });

  it("accepts ordinary keys", () => {
    for (const key of ["a", "imports/0b9f/orders.csv", "x/y/z-1_2.3.csv", "a b/ç.csv", `a/${"b".repeat(MAX_KEY_BYTES - 2)}`]) {
      expect(validateObjectKey(key)).toBe(key);
    }
  });

  it.each(REFUSED_KEYS)("refuses a key: %s", (_reason, key) => {
    expect(() => validateObjectKey(key)).toThrow(InvalidObjectKeyError);
  });

  it("refuses non-strings, and never echoes raw control characters", () => {
    expect(() => validateObjectKey(42)).toThrow(InvalidObjectKeyError);
    expect(() => validateObjectKey(undefined)).toThrow(InvalidObjectKeyError);
    const error = (() => {
      try {
        validateObjectKey("a\u0000\n.csv");
      } catch (caught) {
        return caught as InvalidObjectKeyError;
      }
      throw new Error("expected a refusal");
    })();
    expect(error.code).toBe("bad_request");
    expect(error.status).toBe(400);
    expect(error.message.includes("\u0000") || error.message.includes("\n")).toBe(false);
    expect(error.message).toContain("\\u0000");
  });

  it("accepts list prefixes: empty, a folder, the start of a key; refuses the rest", () => {
    for (const prefix of ["", "imports/", "imports/0b9f", "imports/0b9f/ord"]) expect(validateKeyPrefix(prefix)).toBe(prefix);
    for (const prefix of ["/", "../", "imports//", "imports/../", "a\\b/"]) {
      expect(() => validateKeyPrefix(prefix)).toThrow(InvalidObjectKeyError);
    }
  });
});
