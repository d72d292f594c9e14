/** Why a workbook cannot be read, with a code an import's file error can carry. */
export type WorkbookErrorCode = "not_a_workbook" | "sheet_not_found" | "shared_strings_too_large" | "bad_workbook_xml";

export class WorkbookError extends Error {
  constructor(
    readonly code: WorkbookErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "WorkbookError";
  }
}
