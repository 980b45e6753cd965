import pLimit from 'p-limit';
import { AlreadyExistsError, StorageUnavailableError } from './errors';
import { newRequestId } from './ids';
import type { Logger } from './log';
import { ChatRequest, State } from './model';
import type { RequestStore } from './request-store';
import type { RequestQueue } from './request-queue';
import type { ParsedRequest } from './request-schema';

/**
 * Accepting requests: record, then enqueue, never twice.
 * Idempotency is race-free by construction: the key row is a conditional insert (first writer wins),
 * and the request row is an insert-if-absent of the id the key names, so concurrent duplicates all
 * converge on one request and only the writer that created the row sends its message. A row whose
 * message could not be sent carries an "unsent" marker that the timer finds and sends.
 */

export interface IntakeDeps {
  store: RequestStore;
  queue: RequestQueue;
  log: Logger;
  now?: () => Date;
}

export type IdempotencySource = 'Idempotency-Key' | 'externalId' | 'webhook-id';

export interface IdempotencyKey {
  source: IdempotencySource;
  value: string;
}

export type IntakeResult =
  | { kind: 'created'; request: ChatRequest }
  | { kind: 'replayed'; request: ChatRequest }
  | { kind: 'mismatch'; requestId: string; source: IdempotencySource };

/** The key that makes a request idempotent: the header first, then the caller's id, then the webhook id. */
export function idempotencyKeyOf(
  parsed: Pick<ParsedRequest, 'externalId'>,
  headers: { idempotencyKey?: string; webhookId?: string },
): IdempotencyKey | undefined {
  if (headers.idempotencyKey) return { source: 'Idempotency-Key', value: headers.idempotencyKey };
  if (parsed.externalId) return { source: 'externalId', value: parsed.externalId };
  if (headers.webhookId) return { source: 'webhook-id', value: headers.webhookId };
  return undefined;
}

function storageKey(key: IdempotencyKey): string {
  return `${key.source}\n${key.value}`;
}

export function newChatRequest(parsed: ParsedRequest, hash: string, id: string, now: Date): ChatRequest {
  const at = now.toISOString();
  const request: ChatRequest = {
    id,
    state: State.queued,
    chatType: parsed.chatType,
    members: parsed.members,
    createdAt: at,
    updatedAt: at,
    attempts: 0,
    graphBody: parsed.graphBody,
    payloadHash: hash,
  };
  if (parsed.externalId !== undefined) request.externalId = parsed.externalId;
  if (parsed.topic !== undefined) request.topic = parsed.topic;
  if (parsed.apps !== undefined) request.apps = parsed.apps;
  if (parsed.notBefore !== undefined) {
    request.notBefore = parsed.notBefore;
    request.nextAttemptAt = parsed.notBefore;
  }
  if (parsed.callbackUrl !== undefined) request.callback = { url: parsed.callbackUrl, state: 'pending', attempts: 0 };
  return request;
}

export async function submitRequest(
  parsed: ParsedRequest,
  hash: string,
  key: IdempotencyKey | undefined,
  deps: IntakeDeps,
): Promise<IntakeResult> {
  const now = (deps.now ?? (() => new Date()))();
  let id = newRequestId(now);
  if (key) {
    try {
      await deps.store.claimKey(storageKey(key), { requestId: id, payloadHash: hash });
    } catch (error) {
      if (!(error instanceof AlreadyExistsError) || !error.existing) throw error;
      const winner = error.existing as { requestId: string; payloadHash: string };
      if (winner.payloadHash !== hash) return { kind: 'mismatch', requestId: winner.requestId, source: key.source };
      const existing = await deps.store.get(winner.requestId);
      if (existing) return { kind: 'replayed', request: existing.value };
      // The key's first writer has not created its row (yet, or it crashed): create it under that id.
      id = winner.requestId;
    }
  }
  const request = newChatRequest(parsed, hash, id, now);
  await deps.store.markUnsent([id], now);
  try {
    await deps.store.create(request);
  } catch (error) {
    if (error instanceof AlreadyExistsError && error.existing) {
      return { kind: 'replayed', request: (error.existing as { value: ChatRequest }).value };
    }
    throw error;
  }
  await enqueue(request, deps, now);
  deps.log('info', 'request.accepted', { requestId: id, attempt: 0, keySource: key?.source });
  return { kind: 'created', request };
}

async function enqueue(request: ChatRequest, deps: IntakeDeps, now: Date): Promise<void> {
  const delaySeconds = request.notBefore ? Math.max(0, (Date.parse(request.notBefore) - now.getTime()) / 1000) : 0;
  await deps.queue.send({ id: request.id, attempt: 0 }, delaySeconds);
  try {
    await deps.store.clearUnsent(request.id);
  } catch {
    // The marker only makes the timer send one more (harmless, deduplicated) message.
  }
}

export type BatchItemResult =
  | { index: number; status: 'accepted' | 'replayed'; id: string }
  | { index: number; status: 'rejected'; errors: { path: string; message: string }[] };

/** Submits the valid items of a batch concurrently; one item's failure never loses the others. */
export async function submitBatch(
  items: { index: number; parsed: ParsedRequest; hash: string }[],
  deps: IntakeDeps,
  concurrency = 32,
): Promise<BatchItemResult[]> {
  const limit = pLimit(concurrency);
  return Promise.all(
    items.map((item) =>
      limit(async (): Promise<BatchItemResult> => {
        const key = idempotencyKeyOf(item.parsed, {});
        let result: IntakeResult;
        try {
          result = await submitRequest(item.parsed, item.hash, key, deps);
        } catch (error) {
          if (!(error instanceof StorageUnavailableError)) throw error;
          // This item was not recorded (or not confirmed): resubmitting the batch is safe by externalId.
          return {
            index: item.index,
            status: 'rejected',
            errors: [{ path: `requests[${item.index}]`, message: 'storage was unavailable; resubmit this item' }],
          };
        }
        if (result.kind === 'mismatch') {
          return {
            index: item.index,
            status: 'rejected',
            errors: [
              {
                path: `requests[${item.index}].externalId`,
                message: `externalId is already used by request ${result.requestId} with a different payload`,
              },
            ],
          };
        }
        return {
          index: item.index,
          status: result.kind === 'created' ? 'accepted' : 'replayed',
          id: result.request.id,
        };
      }),
    ),
  );
}
