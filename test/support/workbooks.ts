/**
 * Workbooks built part by part for tests of what the importer refuses (a DOCTYPE, a zip
 * bomb, a zip that is no workbook) and OLE compound files (an .xls, an encrypted
 * package), where the generator's writer (dev/generate/xlsx.ts) writes only good ones.
 */
import yazl from "yazl";

const FIXED_TIME = new Date(Date.UTC(2025, 0, 1));

/** A zip of the given parts (deflated). */
export async function zipOf(parts: Array<[name: string, body: string | Buffer]>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, body] of parts) zip.addBuffer(Buffer.isBuffer(body) ? body : Buffer.from(body), name, { mtime: FIXED_TIME });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The parts of a workbook of the given sheets, each `<sheetData>` given as XML, strings inline. */
export function workbookParts(sheets: Array<{ name: string; xml: string }>, options: { styles?: string } = {}): Array<[string, string]> {
  const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
  const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
  return [
    [
      "[Content_Types].xml",
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"></Types>',
    ],
    ["_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>`],
    [
      "xl/workbook.xml",
      `<?xml version="1.0" encoding="UTF-8"?><workbook ${ns} xmlns:r="${rel}"><sheets>${sheets
        .map((sheet, k) => `<sheet name="${sheet.name}" sheetId="${k + 1}" r:id="rId${k + 1}"/>`)
        .join("")}</sheets></workbook>`,
    ],
    [
      "xl/_rels/workbook.xml.rels",
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheets
        .map((_, k) => `<Relationship Id="rId${k + 1}" Type="${rel}/worksheet" Target="worksheets/sheet${k + 1}.xml"/>`)
        .join("")}${options.styles ? `<Relationship Id="rIdStyles" Type="${rel}/styles" Target="styles.xml"/>` : ""}</Relationships>`,
    ],
    ...(options.styles ? [["xl/styles.xml", options.styles] as [string, string]] : []),
    ...sheets.map((sheet, k): [string, string] => [`xl/worksheets/sheet${k + 1}.xml`, sheet.xml.startsWith("<?xml") || sheet.xml.startsWith("<!") ? sheet.xml : `<?xml version="1.0" encoding="UTF-8"?><worksheet ${ns}><sheetData>${sheet.xml}</sheetData></worksheet>`]),
  ];
}

/** Cell format 0 is General, 1 the built-in date format 14 (m/d/yyyy), 2 a custom `dd/mm/yyyy hh:mm`. */
export const DATE_STYLES =
  '<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
  '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy\\ hh:mm"/></numFmts>' +
  '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>';

/** A row of inline-string cells, from column A. */
export function inlineRow(row: number, values: string[]): string {
  const letters = (k: number) => String.fromCharCode(65 + k);
  return `<row r="${row}">${values.map((value, k) => `<c r="${letters(k)}${row}" t="inlineStr"><is><t>${value}</t></is></c>`).join("")}</row>`;
}

/**
 * An OLE compound file (CFB, what .xls and encrypted Office files are) whose directory
 * names `streams`: a header and one directory sector, enough for the importer to tell
 * an .xls from an encrypted workbook (it reads no further).
 */
export function compoundFile(streams: string[]): Buffer {
  const file = Buffer.alloc(512 * 3);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(file, 0);
  file.writeUInt16LE(0x3e, 24); // minor version
  file.writeUInt16LE(3, 26); // major version 3: 512-byte sectors
  file.writeUInt16LE(0xfffe, 28); // little-endian
  file.writeUInt16LE(9, 30); // sector shift
  file.writeUInt16LE(6, 32); // mini sector shift
  file.writeUInt32LE(1, 44); // FAT sectors
  file.writeUInt32LE(0, 48); // first directory sector: sector 0 (file offset 512)
  ["Root Entry", ...streams].slice(0, 4).forEach((name, k) => {
    const at = 512 + k * 128;
    file.write(name, at, "utf16le");
    file.writeUInt16LE((name.length + 1) * 2, at + 64);
    file.writeUInt8(k === 0 ? 5 : 2, at + 66);
  });
  return file;
}
