import pLimit from 'p-limit';
import { StorageUnavailableError } from '../core/errors';
import {
  claimKeys,
  createOnce,
  type IdempotencyKey,
  type IdempotencySource,
  type KeyClaim,
  storageKey,
} from '../core/idempotency';
import { newRequestId } from '../core/ids';
import type { Logger } from '../platform/log';
import { ChatRequest, State } from '../core/model';
import type { RequestQueue } from '../core/queue/port';
import type { FieldError } from '../core/request/fields';
import type { ParsedRequest } from '../core/request/parsed';
import { type RequestStore, sendMessage } from '../core/request-store';
import { recordAccepted } from '../platform/telemetry';

/**
 * Accepting requests: record, then enqueue, never twice.
 * Idempotency (idempotency.ts) is race-free by construction: each key row is a conditional insert (first
 * writer wins), and the request row is an insert-if-absent of the id the keys name, so concurrent
 * duplicates all converge on one request and only the writer that created the row sends its message. The row is
 * preceded by an "unsent" marker, cleared once the message is sent: a row whose message could not be
 * sent (queue down, crash) is found by the timer, which sends it.
 */

export interface IntakeDeps {
  store: RequestStore;
  queue: RequestQueue;
  log: Logger;
  now?: () => Date;
}

export type IntakeResult = { kind: 'created'; request: ChatRequest } | Exclude<KeyClaim, { kind: 'create' }>;

// Named here too for code that took them from intake before idempotency.ts held them (bench).
export { batchItemKeysOf, idempotencyKeysOf, storageKey } from '../core/idempotency';

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

/**
 * An Azure Table entity holds at most 1 MiB and stores strings as UTF-16 (2 bytes a character): a
 * 400,000-character document is 800 KB, leaving room for the other columns and for what the row
 * gains later (chat, operation, error).
 */
export const MAX_STORED_REQUEST_CHARS = 400_000;

/** Why a valid request cannot be stored (its stored form is too large), or undefined when it can. */
export function storageSizeProblem(parsed: ParsedRequest, hash: string): string | undefined {
  const chars = JSON.stringify(newChatRequest(parsed, hash, newRequestId(), new Date(0))).length;
  if (chars <= MAX_STORED_REQUEST_CHARS) return undefined;
  return `The request would take ${chars} characters to store; at most ${MAX_STORED_REQUEST_CHARS} fit (check for overlong user ids, UPNs, app ids or permission names)`;
}

/** Shared by the items of one batch: once the queue has failed, the rest leave their message to the timer. */
export interface QueueOutage {
  down: boolean;
}

/**
 * Sends the request's message and clears its marker. The row is written by now, so a failure here
 * must not fail the request: the marker stays and the timer sends the message (true = deferred).
 */
async function enqueue(request: ChatRequest, deps: IntakeDeps, now: Date, outage?: QueueOutage): Promise<boolean> {
  if (outage?.down) return true;
  const delaySeconds = request.notBefore ? Math.max(0, (Date.parse(request.notBefore) - now.getTime()) / 1000) : 0;
  // The marker is cleared in the background: the answer need not wait for it, and a marker left behind
  // only makes the timer send one more (harmless, deduplicated) message a minute later.
  const result = await sendMessage(deps, request, { delaySeconds, onSendError: 'defer', clearMarker: 'background' });
  if (result.sent) return false;
  if (outage) outage.down = true;
  const unavailable = result.error instanceof StorageUnavailableError;
  deps.log(unavailable ? 'warn' : 'error', 'request.messageDeferred', {
    requestId: request.id,
    attempt: 0,
    error: (result.error as Error)?.name,
  });
  return true;
}

/** Cleans up, in the background, what was written ahead for a request that turned out not to be new. */
function forget(request: ChatRequest, deps: IntakeDeps): void {
  deps.store.forgetNew([request]).catch(() => undefined);
}

export async function submitRequest(
  parsed: ParsedRequest,
  hash: string,
  keys: IdempotencyKey[],
  deps: IntakeDeps,
): Promise<IntakeResult> {
  const now = (deps.now ?? (() => new Date()))();
  // The keys, the unsent marker and the index entries of a new id are written at once: they do not depend
  // on one another, and the row (which must come after the marker and the entries) waits for all three.
  const speculative = newChatRequest(parsed, hash, newRequestId(now), now);
  const [claim] = await Promise.all([
    claimKeys(keys, hash, deps.store, speculative.id),
    deps.store.markUnsent([speculative.id], now),
    deps.store.indexNew([speculative]),
  ]);
  if (claim.kind !== 'create') {
    forget(speculative, deps);
    return claim;
  }
  let request = speculative;
  if (claim.id !== speculative.id) {
    // The keys name an id whose row is not written yet (a duplicate in flight, or a writer that died).
    forget(speculative, deps);
    request = newChatRequest(parsed, hash, claim.id, now);
    await deps.store.markUnsent([request.id], now);
    await deps.store.indexNew([request]);
  }
  const lost = await createOnce(request, deps.store, true);
  if (lost) return lost;
  const messageDeferred = await enqueue(request, deps, now);
  recordAccepted(1);
  deps.log('info', 'request.accepted', {
    requestId: request.id,
    attempt: 0,
    keySource: keys[0]?.source,
    messageDeferred,
  });
  return { kind: 'created', request };
}

export type BatchItemResult =
  | { index: number; status: 'accepted' | 'replayed'; id: string }
  | { index: number; status: 'rejected'; errors: FieldError[] };

export interface BatchItem {
  index: number;
  parsed: ParsedRequest;
  hash: string;
  keys: IdempotencyKey[];
}

/** Where a key came from, as an error path for batch item `index`. */
function keyPath(source: IdempotencySource, index: number): string {
  if (source === 'externalId') return `requests[${index}].externalId`;
  return `headers.${source}`;
}

function mismatchError(index: number, result: { requestId: string; source: IdempotencySource }): BatchItemResult {
  const what = result.source === 'externalId' ? 'externalId' : `the batch's ${result.source} (for this position)`;
  return {
    index,
    status: 'rejected',
    errors: [
      {
        path: keyPath(result.source, index),
        message: `${what} is already used by request ${result.requestId} with a different payload`,
      },
    ],
  };
}

function storageRejection(index: number): BatchItemResult {
  return {
    index,
    status: 'rejected',
    errors: [{ path: `requests[${index}]`, message: 'storage was unavailable; resubmit this item' }],
  };
}

/**
 * Submits the valid items of a batch; one item's failure never loses the others.
 * Items that share a key with an earlier item of the same batch are decided against that item, not
 * raced against it: the same payload is `replayed` (same id), another payload is rejected.
 * Phases: claim keys (concurrently) → one "unsent" marker write for all new rows (entity group
 * transactions) → rows (concurrently) → messages (concurrently). Once storage fails, the remaining
 * items stop trying and are rejected for resubmission; once the queue fails, the remaining messages
 * are left to the timer.
 */
export async function submitBatch(
  items: BatchItem[],
  deps: IntakeDeps,
  concurrency = 32,
): Promise<{ results: BatchItemResult[]; storageUnavailable: boolean }> {
  const now = (deps.now ?? (() => new Date()))();
  const limit = pLimit(concurrency);
  let storageDown = false;
  const guarded = async (index: number, work: () => Promise<BatchItemResult | undefined>) => {
    if (storageDown) return storageRejection(index);
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      storageDown = true;
      return storageRejection(index);
    }
  };

  // Items repeating a key of an earlier item follow that item's outcome.
  const leaderOf = new Map<number, BatchItem>();
  const firstWithKey = new Map<string, BatchItem>();
  const leaders: BatchItem[] = [];
  for (const item of items) {
    const leader = item.keys.map((k) => firstWithKey.get(storageKey(k))).find((l) => l !== undefined);
    if (leader) leaderOf.set(item.index, leader);
    else leaders.push(item);
    for (const key of item.keys) if (!firstWithKey.has(storageKey(key))) firstWithKey.set(storageKey(key), item);
  }

  const results = new Map<number, BatchItemResult>();
  // As for one request: keys, unsent markers and index entries of new ids at once (markers and entries in
  // entity group transactions), then the rows, then the messages.
  const speculative = new Map(
    leaders.map((item) => [item, newChatRequest(item.parsed, item.hash, newRequestId(now), now)]),
  );
  const toCreate: { item: BatchItem; request: ChatRequest }[] = [];
  const adopted: ChatRequest[] = [];
  const forgotten: ChatRequest[] = [];
  const claims = Promise.all(
    leaders.map((item) =>
      limit(async () => {
        const ahead = speculative.get(item)!;
        let usedAhead = false;
        const result = await guarded(item.index, async () => {
          const claim = await claimKeys(item.keys, item.hash, deps.store, ahead.id);
          if (claim.kind === 'mismatch') return mismatchError(item.index, claim);
          if (claim.kind === 'replayed') return { index: item.index, status: 'replayed', id: claim.request.id };
          if (claim.id === ahead.id) {
            toCreate.push({ item, request: ahead });
            usedAhead = true;
          } else {
            const request = newChatRequest(item.parsed, item.hash, claim.id, now);
            toCreate.push({ item, request });
            adopted.push(request);
          }
          return undefined;
        });
        if (!usedAhead) forgotten.push(ahead);
        if (result) results.set(item.index, result);
      }),
    ),
  );
  const ahead = [...speculative.values()];
  const [, marked] = await Promise.all([
    claims,
    guarded(-1, async () => {
      await Promise.all([
        deps.store.markUnsent(
          ahead.map((r) => r.id),
          now,
        ),
        deps.store.indexNew(ahead),
      ]);
      return undefined;
    }),
  ]);
  if (forgotten.length > 0) deps.store.forgetNew(forgotten).catch(() => undefined);
  const adoptedMarked =
    marked ??
    (adopted.length === 0
      ? undefined
      : await guarded(-1, async () => {
          await deps.store.markUnsent(
            adopted.map((r) => r.id),
            now,
          );
          await deps.store.indexNew(adopted);
          return undefined;
        }));
  if (adoptedMarked) for (const { item } of toCreate) results.set(item.index, storageRejection(item.index));
  else {
    const outage: QueueOutage = { down: false };
    await Promise.all(
      toCreate.map(({ item, request }) =>
        limit(async () => {
          const result = await guarded(item.index, async () => {
            const lost = await createOnce(request, deps.store, true);
            return lost ? { index: item.index, status: 'replayed', id: request.id } : undefined;
          });
          if (result) {
            results.set(item.index, result);
            return;
          }
          // The row is written: from here the request is accepted whatever the queue does.
          await enqueue(request, deps, now, outage);
          results.set(item.index, { index: item.index, status: 'accepted', id: request.id });
          recordAccepted(1);
          deps.log('info', 'request.accepted', { requestId: request.id, attempt: 0, keySource: item.keys[0]?.source });
        }),
      ),
    );
  }

  for (const item of items) {
    const leader = leaderOf.get(item.index);
    if (leader) results.set(item.index, followerResult(item, leader, results.get(leader.index)!));
  }
  return { results: items.map((item) => results.get(item.index)!), storageUnavailable: storageDown };
}

function followerResult(item: BatchItem, leader: BatchItem, outcome: BatchItemResult): BatchItemResult {
  if (item.hash !== leader.hash) {
    const shared = item.keys.find((k) => leader.keys.some((l) => storageKey(l) === storageKey(k)))!;
    return {
      index: item.index,
      status: 'rejected',
      errors: [
        {
          path: keyPath(shared.source, item.index),
          message: `${shared.source} repeats requests[${leader.index}] of this batch with a different payload`,
        },
      ],
    };
  }
  if (outcome.status === 'rejected') {
    return {
      index: item.index,
      status: 'rejected',
      errors: [
        {
          path: `requests[${item.index}]`,
          message: `the same request as requests[${leader.index}]: ${outcome.errors[0]?.message ?? 'rejected'}`,
        },
      ],
    };
  }
  return { index: item.index, status: 'replayed', id: outcome.id };
}
