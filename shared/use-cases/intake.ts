import pLimit from 'p-limit';
import { AlreadyExistsError, StorageUnavailableError } from '../core/errors';
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
import type { RequestStore } from '../core/request-store';
import { recordAccepted } from '../platform/telemetry';

/**
 * Accepting requests, in three steps: claim the idempotency keys, send the queue message
 * `{id, attempt: 0, sentAt}`, insert the row. The request exists only once its row does (one insert), so
 * nothing is half-written; the message goes first so that nothing else (no marker) has to be written and
 * cleared around the row in the common case.
 * - Idempotency (idempotency.ts) is race-free by construction: each key is a conditional insert (first
 *   writer wins), and the row is an insert-if-absent of the id the keys name, so concurrent duplicates all
 *   converge on one request. A duplicate that finds the key but no row writes the unsent marker, then the
 *   row, and sends only if its row landed: at most two messages (the first intake's and the row writer's),
 *   and the worker acts once per attempt.
 * - A worker may get the message before the row: it sends it again 5 s later while `sentAt` is under
 *   10 minutes old (worker.ts).
 * - The queue is down: an "unsent" marker is written before the row, and the timer sends the message.
 * - A crash after the keys, or after the message, leaves keys (and a message) without a row: nothing was
 *   accepted, and the caller's retry with the same key creates the request under the id the keys name (as
 *   a duplicate does: marker, row, then the message).
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
 * Sends a new request's first message `{id, attempt: 0, sentAt}`, before its row: true when sent. A failed
 * send does not fail the request: the caller writes the unsent marker before the row, and the timer sends
 * the message (the request is accepted, its message deferred).
 */
async function sendFirst(request: ChatRequest, deps: IntakeDeps, outage?: QueueOutage): Promise<boolean> {
  if (outage?.down) return false;
  const at = (deps.now ?? (() => new Date()))();
  const delaySeconds = request.notBefore ? Math.max(0, (Date.parse(request.notBefore) - at.getTime()) / 1000) : 0;
  try {
    await deps.queue.send({ id: request.id, attempt: 0, sentAt: at.toISOString() }, delaySeconds);
    return true;
  } catch (error) {
    if (outage) outage.down = true;
    deps.log(error instanceof StorageUnavailableError ? 'warn' : 'error', 'request.messageDeferred', {
      requestId: request.id,
      attempt: 0,
      error: (error as Error)?.name,
    });
    return false;
  }
}

export async function submitRequest(
  parsed: ParsedRequest,
  hash: string,
  keys: IdempotencyKey[],
  deps: IntakeDeps,
): Promise<IntakeResult> {
  const now = (deps.now ?? (() => new Date()))();
  // 1. The keys, alone: they name the id (a new one, or that of a duplicate in flight or whose writer died).
  const claim = await claimKeys(keys, hash, deps.store, newRequestId(now));
  if (claim.kind !== 'create') return claim;
  const request = newChatRequest(parsed, hash, claim.id, now);
  let sent: boolean;
  if (!claim.adopted) {
    // 2. The message, before the row: a worker that gets it first sends it again until the row is there.
    sent = await sendFirst(request, deps);
    // The queue is down: the marker makes the timer send the message once the row exists.
    if (!sent) await deps.store.markUnsent([request.id], now);
    // 3. The row, one insert: the request exists from here, whole.
    const lost = await createOnce(request, deps.store);
    if (lost) return lost;
  } else {
    // The keys name an id whose row is not there: its first intake is still writing it (and has sent its
    // message) or died. Of the duplicates only the one whose row lands sends, after it; the marker first
    // covers a send that fails or a process that dies in between.
    await deps.store.markUnsent([request.id], now);
    const lost = await createOnce(request, deps.store, { reused: true });
    if (lost) return lost;
    sent = await sendFirst(request, deps);
    if (sent) await deps.store.clearUnsent(request.id).catch(() => undefined);
  }
  recordAccepted(1);
  deps.log('info', 'request.accepted', {
    requestId: request.id,
    attempt: 0,
    keySource: keys[0]?.source,
    messageDeferred: !sent,
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
 * Phases, as for one request: claim keys (concurrently) → messages (concurrently) → one "unsent" marker
 * write (entity group transactions) for the items whose message is not sent → rows (new ids 100 to a
 * transaction; ids reused from a key one by one) → the messages of reused ids whose row landed. Once
 * storage fails, the items not yet written are rejected for resubmission (their keys name the id a
 * resubmission completes); each written row is accepted whatever happened to the others; once the queue
 * fails, the remaining messages are left to the timer.
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
  // As for one request: keys, then messages, then rows.
  const toCreate: { item: BatchItem; request: ChatRequest; adopted: boolean }[] = [];
  await Promise.all(
    leaders.map((item) =>
      limit(async () => {
        const result = await guarded(item.index, async () => {
          const claim = await claimKeys(item.keys, item.hash, deps.store, newRequestId(now));
          if (claim.kind === 'mismatch') return mismatchError(item.index, claim);
          if (claim.kind === 'replayed') return { index: item.index, status: 'replayed', id: claim.request.id };
          toCreate.push({
            item,
            request: newChatRequest(item.parsed, item.hash, claim.id, now),
            adopted: claim.adopted,
          });
          return undefined;
        });
        if (result) results.set(item.index, result);
      }),
    ),
  );

  // Once storage failed, the claimed items are rejected too (a resubmission completes them under their ids).
  const claimed = toCreate.filter(({ item }) => {
    if (storageDown) results.set(item.index, storageRejection(item.index));
    return !storageDown;
  });
  const outage: QueueOutage = { down: false };
  const sent = new Set<ChatRequest>();
  await Promise.all(
    claimed
      .filter(({ adopted }) => !adopted)
      .map(({ request }) =>
        limit(async () => {
          if (await sendFirst(request, deps, outage)) sent.add(request);
        }),
      ),
  );
  // One marker write (entity group transactions), before the rows, for the items whose message is not sent:
  // the queue failed, or the id was adopted (as for one request, those send after their row lands).
  const unsent = claimed.filter(({ request }) => !sent.has(request)).map(({ request }) => request.id);
  if (unsent.length > 0) await guarded(-1, async () => void (await deps.store.markUnsent(unsent, now)));

  // The rows, 100 to a write where the store can (they share one partition).
  // A reused id (its key was claimed earlier) is written on its own, checked against finished requests.
  const rows = storageDown
    ? []
    : await Promise.all(
        claimed.map(async ({ request, adopted }) =>
          adopted ? deps.store.create(request, { reused: true }).catch((e: unknown) => e as Error) : undefined,
        ),
      ).then(async (reused) => {
        const fresh = claimed.filter(({ adopted }) => !adopted).map(({ request }) => request);
        const written = await deps.store.createMany(fresh);
        return reused.map((row) => row ?? written.shift());
      });
  await Promise.all(
    claimed.map(({ item, request, adopted }, i) =>
      limit(async () => {
        // Each row's own outcome: rows that were written are accepted even when others' writes failed.
        const row = rows[i];
        if (row instanceof AlreadyExistsError && row.existing) {
          results.set(item.index, { index: item.index, status: 'replayed', id: request.id });
          return;
        }
        if (row === undefined || row instanceof StorageUnavailableError) {
          storageDown = true;
          results.set(item.index, storageRejection(item.index));
          return;
        }
        if (row instanceof Error) throw row;
        if (adopted && (await sendFirst(request, deps, outage))) {
          sent.add(request);
          await deps.store.clearUnsent(request.id).catch(() => undefined);
        }
        results.set(item.index, { index: item.index, status: 'accepted', id: request.id });
        recordAccepted(1);
        deps.log('info', 'request.accepted', {
          requestId: request.id,
          attempt: 0,
          keySource: item.keys[0]?.source,
          messageDeferred: !sent.has(request),
        });
      }),
    ),
  );

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
