import { isRequestId } from '../ids';
import type { RequestMessage } from './port';

/**
 * The queue message's text: base64 JSON, the encoding host.json declares (the Functions host decodes it).
 * Checked by hand rather than with zod so the worker loads no schema library for two fields; the reasons
 * read as zod's did (test/unit/request-message.test.ts compares the two).
 */

export type ParsedMessage = { ok: true; value: RequestMessage } | { ok: false; reason: string };

const MAX_ATTEMPT = 1_000_000;

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
  const { id, attempt } = value as RequestMessage;
  return { ok: true, value: { id, attempt } };
}

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
  const unknown = Object.keys(fields).filter((key) => key !== 'id' && key !== 'attempt');
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

export function encodeRequestMessage(message: RequestMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
