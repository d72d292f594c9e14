/**
 * What kind of file a workbook upload is, from its first bytes: an .xlsx is a zip; an
 * OLE compound file (CFB) is either an Excel 97-2003 workbook (.xls, BIFF) or an
 * encrypted Office document (Office wraps a password-protected .xlsx in CFB with the
 * streams EncryptionInfo and EncryptedPackage). The CFB directory's first sector names
 * the streams; that tells the two apart.
 */
import type { FileHandle } from "node:fs/promises";
import { WorkbookError } from "./errors.js";

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const EMPTY_ZIP = [0x50, 0x4b, 0x05, 0x06];
const CFB = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/** The bytes begin with `signature` (a file type's magic number). */
export const startsWith = (bytes: Uint8Array, signature: readonly number[]): boolean =>
  bytes.length >= signature.length && signature.every((b, k) => bytes[k] === b);

export type Container = "zip" | "cfb";

export function containerOf(head: Uint8Array): Container | null {
  if (startsWith(head, ZIP) || startsWith(head, EMPTY_ZIP)) return "zip";
  if (startsWith(head, CFB)) return "cfb";
  return null;
}

/** The refusal for a CFB file: encrypted, .xls, or neither. */
export async function compoundFileRefusal(file: FileHandle): Promise<WorkbookError> {
  const names = await compoundStreamNames(file);
  if (names.includes("EncryptionInfo") || names.includes("EncryptedPackage")) {
    return new WorkbookError(
      "encrypted_workbook",
      "The workbook is password-protected (encrypted): open it in Excel, remove the password (File > Info > Protect Workbook > Encrypt with Password, empty), save it and upload it again.",
    );
  }
  if (names.includes("Workbook") || names.includes("Book")) {
    return new WorkbookError(
      "old_excel_workbook",
      'This is an Excel 97-2003 workbook (.xls): open it in Excel and save it as "Excel Workbook (*.xlsx)" or "CSV UTF-8", then upload that.',
    );
  }
  return new WorkbookError("not_a_workbook", "This is an OLE compound document (an old Office file), not an .xlsx workbook or a CSV file.");
}

/** Names in the CFB directory's first sector (4 to 32 entries: enough for the streams an .xls or an encrypted package starts with). */
async function compoundStreamNames(file: FileHandle): Promise<string[]> {
  const header = Buffer.alloc(512);
  const { bytesRead } = await file.read(header, 0, 512, 0);
  if (bytesRead < 512) return [];
  const sectorShift = header.readUInt16LE(30);
  if (sectorShift !== 9 && sectorShift !== 12) return [];
  const sectorSize = 1 << sectorShift;
  const directorySector = header.readUInt32LE(48);
  if (directorySector >= 0xfffffffa) return [];
  const sector = Buffer.alloc(sectorSize);
  const read = await file.read(sector, 0, sectorSize, (directorySector + 1) * sectorSize);
  const names: string[] = [];
  for (let at = 0; at + 128 <= read.bytesRead; at += 128) {
    const length = sector.readUInt16LE(at + 64);
    if (length < 2 || length > 64) continue;
    names.push(sector.toString("utf16le", at, at + length - 2));
  }
  return names;
}
