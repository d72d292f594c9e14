/** Why a workbook cannot be imported, with a code its file error carries (part of the API, docs/imports.md). */
export const WORKBOOK_ERROR_MEANINGS = {
  not_a_workbook: "A zip file that is not an .xlsx workbook (no xl/workbook.xml), or a damaged one.",
  encrypted_workbook: "A password-protected (encrypted) workbook: dropflow cannot read it without the password.",
  old_excel_workbook: "An Excel 97-2003 workbook (.xls, BIFF): save it as .xlsx or as CSV UTF-8.",
  workbook_too_large:
    "A part of the workbook inflates past DROPFLOW_XLSX_MAX_PART_MB or past DROPFLOW_XLSX_MAX_RATIO times its compressed size (a zip bomb, or a sheet too large to import).",
  shared_strings_too_large: "The workbook's shared strings exceed DROPFLOW_XLSX_MAX_SHARED_STRINGS_MB, the one table an import holds in memory.",
  bad_workbook_xml: "A part of the workbook is not well-formed XML, or declares a DOCTYPE or entities (refused: XML entity attacks).",
  sheet_not_found: "The file names a sheet (`sheet`) the workbook does not have.",
  no_matching_sheet: "No sheet of the workbook has the header of the import's file type.",
  ambiguous_sheet: "More than one sheet has the header of the import's file type: name one with `sheet`.",
} as const;

export type WorkbookErrorCode = keyof typeof WORKBOOK_ERROR_MEANINGS;

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
