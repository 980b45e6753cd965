/**
 * Input files (CSV or JSONL) → request bodies, each with the file's real line number. Pure: takes the
 * file's bytes, returns rows and problems; nothing here reads files or talks to the API.
 *
 * A CSV row becomes the compact request form of the API (docs/api.md); a JSONL line is sent as it is
 * (compact form or Graph create-chat body). Every row must carry `externalId`: it is what makes
 * re-running a file safe (the API replays a known externalId instead of creating a second chat).
 */
import { parse } from 'csv-parse/sync';
import type { CsvError } from 'csv-parse';

export interface FieldError {
  path: string;
  message: string;
}

/** Which CSV column and entry (1-based) a `members[i]` of the request came from, to name it in errors. */
export interface MemberSource {
  column: MemberColumn;
  entry: number;
}

export interface InputRow {
  /** The file's line number where the row starts (1-based; multi-line quoted cells counted). */
  line: number;
  externalId?: string;
  /** The request as it will be sent. */
  body: Record<string, unknown>;
  /** Problems found while reading the row, before the request schema sees it. */
  errors: FieldError[];
  memberSources?: MemberSource[];
}

export interface InputFile {
  rows: InputRow[];
  /** Problems with the file as a whole (syntax, header): no row can be trusted, nothing is sent. */
  problems: string[];
}

export type InputFormat = 'csv' | 'jsonl';

export function formatOf(fileName: string): InputFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

/**
 * `encoding`: how the file's bytes are text (a WHATWG name: utf-8, latin1/windows-1252, utf-16le, …). Without
 * it the file must be UTF-8: a file that is not (Excel's "CSV (Comma delimited)" is Windows-1252) is refused,
 * naming the first bad line, instead of turning é into �.
 */
export function readInputFile(content: Buffer | string, format: InputFormat, encoding?: string): InputFile {
  let text: Buffer | string = content;
  if (typeof content !== 'string') {
    const decoded = decode(content, encoding);
    if (!decoded.ok) return { rows: [], problems: [decoded.problem] };
    text = decoded.text;
  }
  return format === 'csv' ? readCsv(text) : readJsonl(text);
}

/** True when `name` is an encoding this tool can read (TextDecoder's labels). */
export function isKnownEncoding(name: string): boolean {
  try {
    new TextDecoder(name);
    return true;
  } catch {
    return false;
  }
}

function decode(
  bytes: Buffer,
  encoding: string | undefined,
): { ok: true; text: string } | { ok: false; problem: string } {
  if (encoding !== undefined) return { ok: true, text: new TextDecoder(encoding).decode(bytes) };
  const hint =
    'Save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8), or say how it is encoded with --encoding (e.g. --encoding latin1).';
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { ok: false, problem: `the file is UTF-16 text, not UTF-8. ${hint.replace('latin1', 'utf-16le')}` };
  }
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    const line = bytes
      .subarray(0, at)
      .toString('latin1')
      .split(/\r\n|\n|\r/).length;
    const byte = (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    return {
      ok: false,
      problem: `line ${line}: the file is not UTF-8 text (byte 0x${byte} cannot start or continue a UTF-8 character: it is probably Windows-1252/Latin-1, where it is "${Buffer.from([bytes[at] ?? 0]).toString('latin1')}"). ${hint}`,
    };
  }
}

/** The offset of the first byte that breaks UTF-8 (lead byte, then its continuation bytes). */
function firstInvalidUtf8(bytes: Buffer): number {
  for (let at = 0; at < bytes.length;) {
    const lead = bytes[at]!;
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    if (length === 0) return at;
    for (let next = 1; next < length; next += 1) {
      const byte = bytes[at + next];
      if (byte === undefined || byte < 0x80 || byte > 0xbf) return at;
    }
    at += length;
  }
  return Math.max(0, bytes.length - 1);
}

// ---------------------------------------------------------------------------------------------
// CSV

export const CsvColumn = {
  externalId: 'externalId',
  chatType: 'chatType',
  topic: 'topic',
  members: 'members',
  owners: 'owners',
  guests: 'guests',
  notBefore: 'notBefore',
  callbackUrl: 'callbackUrl',
  appId: 'appId',
} as const;
export type CsvColumn = (typeof CsvColumn)[keyof typeof CsvColumn];
const CSV_COLUMNS: readonly CsvColumn[] = Object.values(CsvColumn);
const REQUIRED_COLUMNS: readonly CsvColumn[] = [CsvColumn.externalId, CsvColumn.chatType, CsvColumn.members];
type MemberColumn = typeof CsvColumn.members | typeof CsvColumn.owners | typeof CsvColumn.guests;

/** Spreadsheet headers drift ("External ID", "external_id"): compare letters and digits only, any case. */
function headerKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
const COLUMN_BY_KEY = new Map(CSV_COLUMNS.map((column) => [headerKey(column), column]));

/** Entries in a people cell: `;` as documented; a line break (Alt+Enter in a cell) or `,` also separate. */
const ENTRY_SEPARATOR = /[;,\r\n]+/;
/** A federated (other-tenant) user: `objectId|tenantId`. `|` appears in neither a UPN nor a GUID. */
const TENANT_SEPARATOR = '|';

interface CsvRecord {
  record: string[];
  info: { bytes: number };
}

export function readCsv(content: Buffer | string): InputFile {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  let records: CsvRecord[];
  try {
    records = parse(bytes, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as CsvRecord[];
  } catch (error) {
    return { rows: [], problems: [csvSyntaxProblem(error)] };
  }

  const lines = new LineCounter(bytes);
  let offset = 0;
  let header: { columns: (CsvColumn | undefined)[]; line: number } | undefined;
  const rows: InputRow[] = [];
  for (const { record, info } of records) {
    const line = lines.lineOfRecordStartingAt(offset);
    offset = info.bytes;
    if (record.every((cell) => cell.trim() === '')) continue; // padding rows spreadsheets leave behind
    if (!header) {
      const read = readHeader(record, line);
      if (read.problems.length > 0) return { rows: [], problems: read.problems };
      header = { columns: read.columns, line };
      continue;
    }
    rows.push(csvRow(record, header.columns, line));
  }
  if (!header) return { rows: [], problems: ['the file is empty: expected a header row and at least one row'] };
  return { rows, problems: [] };
}

function csvSyntaxProblem(error: unknown): string {
  const csvError = error as Partial<CsvError> | undefined;
  const message = csvError?.message ?? String(error);
  // csv-parse's messages name the line already ("... at line 3").
  return `not valid CSV (RFC 4180): ${message}. Cells holding commas, quotes or line breaks must be in double quotes, with inner quotes doubled ("").`;
}

function readHeader(record: string[], line: number): { columns: (CsvColumn | undefined)[]; problems: string[] } {
  const problems: string[] = [];
  const names = record.map((cell) => cell.trim());
  for (const [separator, name] of [
    [';', '";"'],
    ['\t', 'tabs'],
  ] as const) {
    if (names.length === 1 && (names[0] ?? '').includes(separator)) {
      return {
        columns: [],
        problems: [
          `line ${line}: the header is separated by ${name} but this tool reads comma-separated files. ` +
            'Save the sheet as "CSV UTF-8 (Comma delimited)".',
        ],
      };
    }
  }
  const columns = names.map((name) => COLUMN_BY_KEY.get(headerKey(name)));
  const seen = new Set<CsvColumn>();
  names.forEach((name, i) => {
    const column = columns[i];
    if (name === '') return; // trailing empty header cells: allowed only if their cells stay empty (checked per row)
    if (column === undefined) {
      problems.push(`line ${line}: unknown column "${name}" (known columns: ${CSV_COLUMNS.join(', ')})`);
    } else if (seen.has(column)) {
      problems.push(`line ${line}: column "${column}" appears twice`);
    } else {
      seen.add(column);
    }
  });
  for (const column of REQUIRED_COLUMNS) {
    if (!seen.has(column)) problems.push(`line ${line}: missing column "${column}"`);
  }
  return { columns, problems };
}

function csvRow(record: string[], columns: readonly (CsvColumn | undefined)[], line: number): InputRow {
  const errors: FieldError[] = [];
  const cells = new Map<CsvColumn, string>();
  if (record.length > columns.length) {
    // Almost always an unquoted comma that shifted the cells after it into the wrong columns.
    errors.push({
      path: 'row',
      message: `has ${record.length} cells but the header has ${columns.length} columns; put cells that contain commas (a topic, say) in double quotes`,
    });
  }
  record.forEach((raw, i) => {
    const value = raw.trim();
    const column = columns[i];
    if (column !== undefined) {
      if (value !== '') cells.set(column, value);
    } else if (value !== '' && i < columns.length) {
      errors.push({ path: `column ${i + 1}`, message: 'has a value but no header' });
    }
  });

  const body: Record<string, unknown> = {};
  const externalId = cells.get(CsvColumn.externalId);
  if (externalId === undefined) {
    errors.push({
      path: CsvColumn.externalId,
      message: 'is required in a file: it is what makes re-running the file safe',
    });
  } else {
    body.externalId = externalId;
  }
  const chatType = cells.get(CsvColumn.chatType);
  if (chatType !== undefined) body.chatType = canonicalChatType(chatType);
  const topic = cells.get(CsvColumn.topic);
  if (topic !== undefined) body.topic = topic;

  const members: unknown[] = [];
  const memberSources: MemberSource[] = [];
  for (const column of [CsvColumn.members, CsvColumn.owners, CsvColumn.guests] as const) {
    const cell = cells.get(column);
    if (cell === undefined) continue;
    cell
      .split(ENTRY_SEPARATOR)
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .forEach((entry, i) => {
        const read = csvMember(entry, column === CsvColumn.guests ? 'guest' : 'owner');
        if (!read.ok) {
          errors.push({ path: `${column} entry ${i + 1}`, message: read.message });
          return;
        }
        members.push(read.member);
        memberSources.push({ column, entry: i + 1 });
      });
  }
  if (members.length > 0 || cells.has(CsvColumn.members)) body.members = members;

  const notBefore = cells.get(CsvColumn.notBefore);
  if (notBefore !== undefined) body.notBefore = notBefore;
  const callbackUrl = cells.get(CsvColumn.callbackUrl);
  if (callbackUrl !== undefined) body.callbackUrl = callbackUrl;
  const appId = cells.get(CsvColumn.appId);
  if (appId !== undefined) {
    body.apps = appId
      .split(ENTRY_SEPARATOR)
      .map((id) => id.trim())
      .filter((id) => id !== '')
      .map((teamsAppId) => ({ teamsAppId }));
  }

  const row: InputRow = { line, body, errors, memberSources };
  if (externalId !== undefined) row.externalId = externalId;
  return row;
}

function canonicalChatType(value: string): string {
  const lower = value.toLowerCase();
  if (lower === 'group') return 'group';
  if (lower === 'oneonone') return 'oneOnOne';
  return value; // the request schema names the allowed values
}

/** A people-cell entry as a compact member: a plain string is an owner, as in the API's compact form. */
function csvMember(
  entry: string,
  role: 'owner' | 'guest',
): { ok: true; member: unknown } | { ok: false; message: string } {
  if (entry.includes(TENANT_SEPARATOR)) {
    const parts = entry.split(TENANT_SEPARATOR).map((part) => part.trim());
    const [user, tenantId] = parts;
    if (parts.length !== 2 || !user || !tenantId) {
      return {
        ok: false,
        message: 'write a user of another tenant as objectId|tenantId (one "|", both parts filled in)',
      };
    }
    return { ok: true, member: role === 'guest' ? { user, role, tenantId } : { user, tenantId } };
  }
  return { ok: true, member: role === 'guest' ? { user: entry, role } : entry };
}

/** Real line numbers from byte offsets: csv-parse's own line count is off for CRLF files with multi-line cells. */
class LineCounter {
  private position = 0;
  private line = 1;

  constructor(private readonly bytes: Buffer) {}

  /** Line of the first character of the record whose text starts at `offset` (after blank lines and a BOM). */
  lineOfRecordStartingAt(offset: number): number {
    let start = offset;
    if (start === 0 && this.bytes[0] === 0xef && this.bytes[1] === 0xbb && this.bytes[2] === 0xbf) start = 3;
    while (start < this.bytes.length && (this.bytes[start] === 0x0a || this.bytes[start] === 0x0d)) start += 1;
    this.advanceTo(start);
    return this.line;
  }

  private advanceTo(target: number): void {
    for (; this.position < target; this.position += 1) {
      const byte = this.bytes[this.position];
      if (byte === 0x0a) this.line += 1;
      else if (byte === 0x0d && this.bytes[this.position + 1] !== 0x0a) this.line += 1; // lone CR (old Mac)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSONL

export function readJsonl(content: Buffer | string): InputFile {
  const text = (typeof content === 'string' ? content : content.toString('utf8')).replace(/^\uFEFF/, '');
  const rows: InputRow[] = [];
  text.split(/\r\n|\n|\r/).forEach((source, i) => {
    const line = i + 1;
    if (source.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      rows.push({
        line,
        body: {},
        errors: [{ path: 'line', message: `is not valid JSON (${(error as Error).message})` }],
      });
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      rows.push({ line, body: {}, errors: [{ path: 'line', message: 'must be one JSON object (a request)' }] });
      return;
    }
    const body = value as Record<string, unknown>;
    const row: InputRow = { line, body, errors: [] };
    if (typeof body.externalId === 'string' && body.externalId.trim() !== '') {
      row.externalId = body.externalId;
    } else {
      row.errors.push({
        path: 'externalId',
        message: 'is required in a file: it is what makes re-running the file safe',
      });
    }
    rows.push(row);
  });
  return { rows, problems: [] };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** The request schema's check of one request (`parseProvisioningRequest` from shared/core/request/parse.ts). */
export type ValidateRequest = (
  body: unknown,
  now: Date,
) => { ok: true } | { ok: false; errors: readonly { path: string; message: string }[] };

export interface InvalidRow {
  row: InputRow;
  /** `field` names the place for the person who wrote the file (a CSV column and entry, or a JSON path). */
  errors: { field: string; message: string }[];
}

export interface CheckedRows {
  valid: InputRow[];
  invalid: InvalidRow[];
}

/** Every row through the same validation the server runs, plus what only a file can get wrong (duplicates). */
export function checkRows(rows: readonly InputRow[], validate: ValidateRequest, now: Date): CheckedRows {
  const valid: InputRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const row of rows) {
    const errors = row.errors.map((error) => ({ field: error.path, message: error.message }));
    if (row.externalId !== undefined) {
      const first = firstLineOf.get(row.externalId);
      if (first === undefined) firstLineOf.set(row.externalId, row.line);
      else errors.push({ field: 'externalId', message: `"${row.externalId}" is already used on line ${first}` });
    }
    if (row.errors.length === 0) {
      const result = validate(row.body, now);
      if (!result.ok) {
        for (const error of result.errors) {
          errors.push({ field: fieldName(row, error.path), message: inFileWords(row, error.message) });
        }
      }
    }
    if (errors.length === 0) valid.push(row);
    else invalid.push({ row, errors });
  }
  return { valid, invalid };
}

/**
 * A request path in the words of the file: `members[3].user` of a CSV row becomes `guests entry 2`,
 * `apps[0].teamsAppId` becomes `appId`; JSONL paths stay as they are.
 */
export function fieldName(row: InputRow, path: string): string {
  const clean = path.replace(/^[/.$]+/, '');
  if (!row.memberSources) return clean === '' ? 'request' : clean;
  const member = /^members(?:\[(\d+)\]|[./](\d+))?/.exec(clean);
  if (member) {
    const index = member[1] ?? member[2];
    const source = index === undefined ? undefined : row.memberSources[Number(index)];
    if (source) return `${source.column} entry ${source.entry}`;
    return 'members';
  }
  if (/^apps\b/.test(clean)) return CsvColumn.appId;
  return clean === '' ? 'row' : clean;
}

/** `members[0]` inside a message, for a CSV row, as the column and entry it came from. */
export function inFileWords(row: InputRow, message: string): string {
  const sources = row.memberSources;
  if (!sources) return message;
  return message.replace(/\bmembers\[(\d+)\]/g, (whole, index: string) => {
    const source = sources[Number(index)];
    return source ? `${source.column} entry ${source.entry}` : whole;
  });
}
