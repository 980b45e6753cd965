import { isRequestId } from '../ids';
import type { RequestMessage } from './port';

/**
 * The queue message's text: base64 JSON, the encoding host.json declares (the Functions host decodes it).
 * Checked by hand rather than with zod so the worker loads no schema library for three fields; the reasons
 * read as zod's did (test/unit/request-message.test.ts compares the two).
 */

export type ParsedMessage = { ok: true; value: RequestMessage } | { ok: false; reason: string };

const MAX_ATTEMPT = 1_000_000;
const KNOWN_KEYS = new Set(['id', 'attempt', 'sentAt']);

/** What the host hands the trigger (already base64-decoded and JSON-parsed when possible). */
export function parseRequestMessage(input: unknown): ParsedMessage {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'message is not JSON' };
    }
  } else if (Buffer.isBuffer(input)) {
    return parseRequestMessage(input.toString('utf8'));
  }
  const problems = messageProblems(value);
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  const { id, attempt, sentAt } = value as RequestMessage;
  return { ok: true, value: sentAt === undefined ? { id, attempt } : { id, attempt, sentAt } };
}

/** What `sentAt` must be: a UTC date-time as `toISOString()` writes it (any number of fraction digits). */
const UTC_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$/;

/** Days in `month` (1–12) of `year`, in the proleptic Gregorian calendar (year 0 is a leap year). */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** True when `value` is a UTC ISO 8601 date-time naming a real instant (no 24:00, no leap second). */
export function isUtcDateTime(value: string): boolean {
  const m = UTC_DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (
    month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && hour <= 23 && minute <= 59 && second <= 59
  );
}

export const SENT_AT_PROBLEM = 'sentAt must be a UTC ISO 8601 date-time, like 2025-01-15T10:00:00.000Z';

/** Every problem of a message, each as `<field>: <why>` (`message` for the whole). */
function messageProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`message: Invalid input: expected object, received ${kindOf(value)}`];
  }
  const fields = value as Record<string, unknown>;
  const problems: string[] = [];
  const { id, attempt } = fields;
  if (typeof id !== 'string') problems.push(`id: Invalid input: expected string, received ${kindOf(id)}`);
  else if (!isRequestId(id)) problems.push('id: id must be a request id');
  if (typeof attempt !== 'number' || !Number.isFinite(attempt)) {
    problems.push(`attempt: Invalid input: expected number, received ${kindOf(attempt)}`);
  } else if (!Number.isInteger(attempt)) {
    problems.push('attempt: Invalid input: expected int, received number');
  } else {
    if (attempt > Number.MAX_SAFE_INTEGER)
      problems.push(`attempt: Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`);
    if (attempt < Number.MIN_SAFE_INTEGER) {
      problems.push(`attempt: Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}`);
    }
    if (attempt < 0) problems.push('attempt: Too small: expected number to be >=0');
    if (attempt > MAX_ATTEMPT) problems.push(`attempt: Too big: expected number to be <=${MAX_ATTEMPT}`);
  }
  // Optional: messages written before it existed carry no sentAt.
  const { sentAt } = fields;
  if (sentAt !== undefined) {
    if (typeof sentAt !== 'string') problems.push(`sentAt: Invalid input: expected string, received ${kindOf(sentAt)}`);
    else if (!isUtcDateTime(sentAt)) problems.push(`sentAt: ${SENT_AT_PROBLEM}`);
  }
  const unknown = Object.keys(fields).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) {
    const keys = unknown.map((key) => `"${key}"`).join(', ');
    problems.push(`message: Unrecognized key${unknown.length > 1 ? 's' : ''}: ${keys}`);
  }
  return problems;
}

/** A value's kind as the reasons name it: null, array, NaN and ±Infinity apart from their typeof. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return typeof value;
}

/**
 * Intake sends a new request's message before it inserts the row, so a message may come before its row.
 * For this long after its `sentAt` such a message is kept (re-sent by the worker) rather than dropped.
 * Intake inserts the row right after the send, and its storage calls give up within about a minute; a row
 * still missing after 10 minutes belongs to an intake that died, whose caller's retry sends a new message.
 */
export const MISSING_ROW_PATIENCE_MS = 10 * 60_000;
/** Instances' clocks differ by less than this: a sentAt further ahead is not believed (it would never age). */
const SENT_AT_SKEW_MS = 2 * 60_000;

/**
 * True while the row of a message may still be written: it has a `sentAt` under MISSING_ROW_PATIENCE_MS old.
 * Without `sentAt` (sent for a row that existed, or from before sentAt), never.
 */
export function mayPrecedeItsRow(message: RequestMessage, now: Date): boolean {
  if (message.sentAt === undefined) return false;
  const ageMs = now.getTime() - Date.parse(message.sentAt);
  return ageMs < MISSING_ROW_PATIENCE_MS && ageMs > -SENT_AT_SKEW_MS;
}

export function encodeRequestMessage(message: RequestMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
