import { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import { asStorageError } from './errors';
import { isRequestId } from './ids';

/**
 * The queue carries small messages (request id + attempt); the request itself lives in the table.
 * Messages are base64 JSON, the encoding host.json declares (the Functions host decodes it).
 */
export interface RequestMessage {
  id: string;
  attempt: number;
}

export interface RequestQueue {
  /** Sends one message, visible after `delaySeconds` (capped at the queue's 7-day limit). */
  send(message: RequestMessage, delaySeconds?: number): Promise<void>;
}

/** Azure Storage caps a message's initial invisibility at 7 days; longer waits hop through it. */
export const MAX_QUEUE_DELAY_SECONDS = 7 * 24 * 3600 - 60;

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

export class StorageRequestQueue implements RequestQueue {
  constructor(private readonly queue: QueueClient) {}

  async send(message: RequestMessage, delaySeconds = 0): Promise<void> {
    const visibilityTimeout = Math.min(Math.max(0, Math.ceil(delaySeconds)), MAX_QUEUE_DELAY_SECONDS);
    try {
      // messageTimeToLive -1: never expire, so a delayed message cannot vanish before it is due.
      await this.queue.sendMessage(encodeRequestMessage(message), { visibilityTimeout, messageTimeToLive: -1 });
    } catch (error) {
      asStorageError(error, 'send queue message');
    }
  }
}
