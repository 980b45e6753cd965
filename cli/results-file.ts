/**
 * The results file `submit --results` writes: one line per input row, mapping its line number and
 * externalId to the request id and what happened. `watch --ids-from` reads it back. Pure.
 */
import { parse } from 'csv-parse/sync';

export const RowStatus = {
  /** The API created a request for the row. */
  accepted: 'accepted',
  /** The API already had a request with this externalId and payload (a re-run). */
  replayed: 'replayed',
  /** The API refused the row (see errors). */
  rejected: 'rejected',
  /** Refused locally, not sent (`--skip-invalid`). */
  invalid: 'invalid',
  /** Not sent because the API could not be reached; re-run the file. */
  notSent: 'not-sent',
} as const;
export type RowStatus = (typeof RowStatus)[keyof typeof RowStatus];

export interface RowResult {
  line: number;
  externalId?: string;
  status: RowStatus;
  requestId?: string;
  /** `field: message` items joined with "; ". */
  errors?: string;
}

export const RESULT_COLUMNS = ['line', 'externalId', 'status', 'requestId', 'errors'] as const;

function csvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Free text from the API must not turn into a formula when the file is opened in a spreadsheet. */
function inert(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export function formatResultsCsv(results: readonly RowResult[]): string {
  const lines = [RESULT_COLUMNS.join(',')];
  for (const result of results) {
    lines.push(
      [
        String(result.line),
        result.externalId ?? '',
        result.status,
        result.requestId ?? '',
        result.errors === undefined ? '' : inert(result.errors),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Request ids from a results file (rows that have one); problems when it is not such a file. */
export function readResultIds(content: Buffer | string): { ids: string[]; problems: string[] } {
  let records: Record<string, string>[];
  try {
    records = parse(content, { bom: true, columns: true, skip_empty_lines: true, relax_column_count: true });
  } catch (error) {
    return { ids: [], problems: [`not a valid CSV file: ${(error as Error).message}`] };
  }
  const first = records[0];
  if (first !== undefined && !('requestId' in first)) {
    return { ids: [], problems: ['has no "requestId" column: expected a file written by "submit --results"'] };
  }
  const ids = [...new Set(records.map((record) => (record.requestId ?? '').trim()).filter((id) => id !== ''))];
  return { ids, problems: [] };
}
