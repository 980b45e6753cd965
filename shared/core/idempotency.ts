import { AlreadyExistsError } from './errors';
import type { ChatRequest } from './model';
import type { ParsedRequest } from './request/parsed';

/**
 * Idempotency: whatever duplicates of a request arrive, and however they race, one request is made.
 * - Keys: a request is known by every key it carries (`idempotencyKeysOf`), each claimed with the payload
 *   hash (`payloadHash`, what the request means) and the id of the request it names.
 * - The port (`IdempotencyStore`): put-if-absent of a key and a point read, nothing else; a claim that loses
 *   throws AlreadyExistsError carrying the record that won, and the caller decides from that record (no
 *   read-then-write). The table store implements it (`table-store.ts`, docs/table-schema.md).
 * - The decision (`claimKeys`): a key seen before with another payload is a mismatch (422); with the same
 *   payload it names the request to replay, or, while that request's row is not written yet, the id to
 *   create it under, so concurrent duplicates converge on one id. The row itself is an insert-if-absent
 *   (`createOnce`): of duplicates that converged, one writes it and the others replay it.
 * Nothing is half-written: keys, then the row; a key whose row never comes names the id its retry creates.
 */

export { payloadHash } from './request/hash';

/** What a claimed key holds: the request it names and the hash of the payload it was claimed with. */
export interface IdempotencyRecord {
  requestId: string;
  payloadHash: string;
}

/** The persistence port of idempotency: two race-free operations on key records. */
export interface IdempotencyStore {
  /** Insert-if-absent of a key; throws AlreadyExistsError carrying the existing record when the key is taken. */
  claimKey(key: string, record: IdempotencyRecord): Promise<void>;
  findKey(key: string): Promise<IdempotencyRecord | undefined>;
}

/** `reused`: the id came from a key claimed earlier, so a request may exist under it already (finished). */
export interface CreateOptions {
  reused?: boolean;
}

/** The reads and writes of request rows that idempotency needs (a slice of the RequestStore port). */
export interface RequestRows {
  get(id: string): Promise<{ value: ChatRequest } | undefined>;
  create(request: ChatRequest, options?: CreateOptions): Promise<unknown>;
}

export type IdempotencySource = 'Idempotency-Key' | 'externalId' | 'webhook-id';

export interface IdempotencyKey {
  source: IdempotencySource;
  value: string;
}

/**
 * Every key a request carries, in precedence order: the Idempotency-Key header, the caller's
 * externalId, the Standard Webhooks webhook-id. All of them are claimed, so an externalId names one
 * request whatever header came with it; the first key that was seen before decides replay or 422.
 */
export function idempotencyKeysOf(
  parsed: Pick<ParsedRequest, 'externalId'>,
  headers: { idempotencyKey?: string; webhookId?: string },
): IdempotencyKey[] {
  const keys: IdempotencyKey[] = [];
  if (headers.idempotencyKey) keys.push({ source: 'Idempotency-Key', value: headers.idempotencyKey });
  if (parsed.externalId) keys.push({ source: 'externalId', value: parsed.externalId });
  if (headers.webhookId) keys.push({ source: 'webhook-id', value: headers.webhookId });
  return keys;
}

/** The keys of batch item `index`: the batch's header keys apply per position, the externalId as it is. */
export function batchItemKeysOf(
  parsed: Pick<ParsedRequest, 'externalId'>,
  index: number,
  headers: { idempotencyKey?: string; webhookId?: string },
): IdempotencyKey[] {
  return idempotencyKeysOf(parsed, {
    idempotencyKey: headers.idempotencyKey ? `${headers.idempotencyKey}#${index}` : undefined,
    webhookId: headers.webhookId ? `${headers.webhookId}#${index}` : undefined,
  });
}

/** The idempotency-key record's name in the store: `<source>\n<value>`. */
export function storageKey(key: IdempotencyKey): string {
  return `${key.source}\n${key.value}`;
}

/** The request an externalId names, if any (its key record points at it). */
export async function findByExternalId(store: IdempotencyStore, externalId: string): Promise<string | undefined> {
  return (await store.findKey(storageKey({ source: 'externalId', value: externalId })))?.requestId;
}

/** What claiming a request's keys decided. */
export type KeyClaim =
  /**
   * Create the request under this id: the one proposed, or (`adopted`) one a duplicate in flight, or an
   * intake that died, claimed first.
   */
  | { kind: 'create'; id: string; adopted: boolean }
  | { kind: 'replayed'; request: ChatRequest }
  | { kind: 'mismatch'; requestId: string; source: IdempotencySource };

/**
 * Claims every key for one id. A key seen before with another payload is a mismatch; with the same
 * payload it names the request (a replay), or, when that request's row is not written yet (its
 * writer is still at it, or crashed), the id to create it under, so all duplicates converge.
 */
export async function claimKeys(
  keys: IdempotencyKey[],
  hash: string,
  store: IdempotencyStore & Pick<RequestRows, 'get'>,
  proposed: string,
): Promise<KeyClaim> {
  let id = proposed;
  for (const key of keys) {
    try {
      await store.claimKey(storageKey(key), { requestId: id, payloadHash: hash });
    } catch (error) {
      if (!(error instanceof AlreadyExistsError) || !error.existing) throw error;
      const winner = error.existing as IdempotencyRecord;
      if (winner.requestId === id) continue;
      if (winner.payloadHash !== hash) return { kind: 'mismatch', requestId: winner.requestId, source: key.source };
      const existing = await store.get(winner.requestId);
      if (existing) return { kind: 'replayed', request: existing.value };
      id = winner.requestId;
    }
  }
  return { kind: 'create', id, adopted: id !== proposed };
}

/**
 * Insert-if-absent of the row the keys name; losing to a concurrent duplicate makes this a replay of the
 * request that won (undefined: this call wrote it).
 */
export async function createOnce(
  request: ChatRequest,
  store: Pick<RequestRows, 'create'>,
  options: CreateOptions = {},
): Promise<{ kind: 'replayed'; request: ChatRequest } | undefined> {
  try {
    await store.create(request, options);
    return undefined;
  } catch (error) {
    if (error instanceof AlreadyExistsError && error.existing) {
      return { kind: 'replayed', request: (error.existing as { value: ChatRequest }).value };
    }
    throw error;
  }
}
