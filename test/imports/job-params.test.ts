/**
 * An import's params and chunk payloads as stored in jobs and job_chunks: what was
 * stored before the import's `kind` was renamed (file_type in params, fileType in a
 * chunk's layout) still parses, so a deploy never fails the imports it finds running.
 */
import { describe, expect, it } from "vitest";
import { ChunkPayload, ImportParams } from "../../lib/imports/job-params.js";

const FILE = { id: "9b2f6c1e-4a5d-4f7e-9c3b-2d1e0f4a5b6c", key: "imports/a/b.csv", name: "b.csv", size: 10, position: 0 };
const CHUNK = {
  file_id: FILE.id,
  position: 0,
  key: FILE.key,
  start: 0,
  end: 10,
  first_line: 2,
  store_id: null,
};

describe("stored import params and payloads", () => {
  it("parses params stored under either name, the new one winning", () => {
    expect(ImportParams.parse({ file_type: "settlements", files: [FILE] }).file_type).toBe("settlements");
    expect(ImportParams.parse({ kind: "purchases", files: [FILE] }).file_type).toBe("purchases");
    expect(ImportParams.parse({ kind: "purchases", file_type: "settlements", files: [FILE] }).file_type).toBe("settlements");
    expect(() => ImportParams.parse({ files: [FILE] })).toThrow(/file_type/);
  });

  it("parses a chunk layout stored under either name", () => {
    const layout = { delimiter: ",", header: ["Kode Pesanan"] };
    expect(ChunkPayload.parse({ ...CHUNK, layout: { ...layout, fileType: "purchases" } }).layout.fileType).toBe("purchases");
    expect(ChunkPayload.parse({ ...CHUNK, layout: { ...layout, kind: "settlements" } }).layout.fileType).toBe("settlements");
    expect(() => ChunkPayload.parse({ ...CHUNK, layout })).toThrow(/fileType/);
  });
});
