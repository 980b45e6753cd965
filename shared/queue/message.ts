import { z } from 'zod';
import { isRequestId } from '../ids';
import type { RequestMessage } from './port';

/** The queue message's text: base64 JSON, the encoding host.json declares (the Functions host decodes it). */

const messageSchema = z.strictObject({
  id: z.string().refine(isRequestId, 'id must be a request id'),
  attempt: z.number().int().min(0).max(1_000_000),
});

export type ParsedMessage = { ok: true; value: RequestMessage } | { ok: false; reason: string };

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
  const parsed = messageSchema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
    };
  }
  return { ok: true, value: parsed.data };
}

export function encodeRequestMessage(message: RequestMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
