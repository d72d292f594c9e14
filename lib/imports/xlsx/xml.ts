/** A zip part streamed through the SAX parser: the caller's handlers see its elements in order. */
import { type SaxesParser, SaxesParser as Parser } from "saxes";
import { WorkbookError } from "./errors.js";
import type { WorkbookZip } from "./zip.js";

export async function parsePart(zip: WorkbookZip, part: string, attach: (parser: SaxesParser) => void): Promise<void> {
  const parser = new Parser();
  attach(parser);
  const stream = await zip.open(part);
  stream.setEncoding("utf8");
  try {
    // for await gives backpressure: the part is inflated no faster than it is parsed.
    for await (const chunk of stream) parser.write(chunk as string);
    parser.close();
  } catch (error) {
    if (error instanceof WorkbookError) throw error;
    throw new WorkbookError("bad_workbook_xml", `${part}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
