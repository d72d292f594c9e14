/**
 * A zip part streamed through the SAX parser. Every part is parsed the same way: no
 * DOCTYPE (saxes never fetches external entities, but a DOCTYPE in a workbook part is
 * either a damaged file or an entity attack, and Excel never writes one), errors as
 * WorkbookError naming the part.
 */
import { SaxesParser } from "saxes";
import { WorkbookError } from "./errors.js";
import { inflateError, type WorkbookZip } from "./zip.js";

export function partParser(part: string): SaxesParser {
  const parser = new SaxesParser();
  parser.on("doctype", () => {
    throw new WorkbookError("bad_workbook_xml", `${part} declares a DOCTYPE: refused (Excel never writes one; it is how XML entity attacks start)`);
  });
  return parser;
}

/** The part's text, inflated as it is read (for await gives backpressure: no faster than the caller parses). */
export async function* partText(zip: WorkbookZip, part: string): AsyncGenerator<string> {
  const stream = await zip.open(part);
  stream.setEncoding("utf8");
  const chunks = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw inflateError(part, error);
      }
      if (next.done) return;
      yield next.value as string;
    }
  } finally {
    stream.destroy();
  }
}

/** Feeds text to the parser; its errors (malformed XML, a DOCTYPE) as bad_workbook_xml naming the part. */
export function writeXml(parser: SaxesParser, part: string, text: string | null): void {
  try {
    if (text === null) parser.close();
    else parser.write(text);
  } catch (error) {
    if (error instanceof WorkbookError) throw error;
    throw new WorkbookError("bad_workbook_xml", `${part} is not well-formed XML: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

export async function parsePart(zip: WorkbookZip, part: string, attach: (parser: SaxesParser) => void): Promise<void> {
  const parser = partParser(part);
  attach(parser);
  for await (const text of partText(zip, part)) writeXml(parser, part, text);
  writeXml(parser, part, null);
}
