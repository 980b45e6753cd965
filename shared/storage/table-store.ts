import { createHash } from 'node:crypto';
import { TableClient, TableEntity, TableEntityResult, odata } from '@azure/data-tables';
import {
  AlreadyExistsError,
  asStorageError,
  ConcurrencyConflictError,
  isConflict,
  isNotFound,
  isPreconditionFailed,
} from '../core/errors';
import type { IdempotencyRecord, IdempotencyStore } from '../core/idempotency';
import { lowestIdAt } from '../core/ids';
import { ChatRequest, isFinal, State } from '../core/model';
import {
  DueEntry,
  isStaleIndexEntry,
  ListPage,
  ListQuery,
  PendingCheck,
  RequestStore,
  Stored,
  withCheck,
} from '../core/request-store';

/**
 * RequestStore on Azure Table Storage, in two tables (docs/table-schema.md). The requests table
 * (CHAT_REQUESTS_TABLE) keeps the record; its work table (the same name + "Work") keeps only what is
 * in flight, which is all the timer reads, so its queries never touch history (Azurite, unlike Azure,
 * scans a whole table for every query).
 * Requests table:
 * - request row:      PK = <id>,               RK = "request"   the whole request as JSON (chunked)
 * - state index:      PK = "state-<state>",    RK = <inverted id> finished states (succeeded, failed)
 * - all index:        PK = "all",              RK = <inverted id> every request, newest first
 * - idempotency key:  PK = "key-<hh>",         RK = sha256(key)  first writer wins
 * - chat owner:       PK = "chat-<hh>",        RK = sha256(chat id) the request a group chat is for
 * Work table:
 * - state index:      PK = "state-<state>",    RK = <inverted id> in-flight states (queued, creating, pending)
 * - unsent marker:    PK = "unsent",           RK = <id>        queue message not yet known sent
 * - callback marker:  PK = "callbacks",        RK = <id>        callback due
 * Index entries are written before the row changes and removed after, so an index is a superset of
 * the truth; readers check the row and drop stale entries that are old enough not to be in flight.
 * A pending request's entry also carries its latest check (`check`, see recordCheck), which `get`
 * overlays on the row while the entry's `version` is the row's.
 */

const REQUEST_RK = 'request';
// Table string properties hold at most 32K UTF-16 characters; the JSON document is split across columns.
const CHUNK = 30_000;
// An entity holds at most 1 MiB (UTF-16): 15 × 30,000 characters stays under it with room for the rest.
const MAX_CHUNKS = 15;

export function invertId(id: string): string {
  return id.replace(/[0-9a-f]/g, (c) => (15 - parseInt(c, 16)).toString(16));
}

function statePartition(state: State): string {
  return `state-${state}`;
}

/** The work table's name for a requests table: the same name + "Work" (config.ts keeps it a valid name). */
export function workTableName(tableName: string): string {
  return `${tableName}Work`;
}

/** The requests table `name` and its work table, each opened by `open`. */
export function openRequestTables<T>(name: string, open: (tableName: string) => T): { table: T; work: T } {
  return { table: open(name), work: open(workTableName(name)) };
}

function keyPartition(hash: string): string {
  return `key-${hash.slice(0, 2)}`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

type RequestEntity = TableEntity<Record<string, unknown>>;

function toEntity(request: ChatRequest): RequestEntity {
  const json = JSON.stringify(request);
  const chunks = Math.ceil(json.length / CHUNK);
  if (chunks > MAX_CHUNKS) throw new Error(`Request ${request.id} is too large to store (${json.length} characters)`);
  const entity: RequestEntity = {
    partitionKey: request.id,
    rowKey: REQUEST_RK,
    state: request.state,
    updatedAt: request.updatedAt,
    chunks,
  };
  if (request.externalId) entity.externalId = request.externalId;
  for (let i = 0; i < chunks; i += 1) entity[`doc${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
  return entity;
}

/** The check column of a pending entry; an overlong Graph error message is cut to keep it one column. */
function checkColumn(check: PendingCheck): string {
  const json = JSON.stringify(check);
  if (json.length <= CHUNK || !check.error) return json;
  const room = Math.max(0, check.error.message.length - (json.length - CHUNK) - 1);
  return JSON.stringify({ ...check, error: { ...check.error, message: `${check.error.message.slice(0, room)}…` } });
}

/** A check column as recordCheck wrote it; anything else (edited by hand, say) is ignored: the row stands. */
function parseCheck(column: string): PendingCheck | undefined {
  try {
    const check = JSON.parse(column) as Partial<PendingCheck> | null;
    if (
      typeof check?.status === 'string' &&
      typeof check.checks === 'number' &&
      typeof check.nextCheckAt === 'string' &&
      !Number.isNaN(Date.parse(check.nextCheckAt))
    ) {
      return check as PendingCheck;
    }
  } catch {
    // not JSON
  }
  return undefined;
}

function fromEntity(entity: TableEntityResult<Record<string, unknown>>): Stored<ChatRequest> {
  const chunks = Number(entity.chunks ?? 0);
  let json = '';
  for (let i = 0; i < chunks; i += 1) json += String(entity[`doc${i}`] ?? '');
  return { value: JSON.parse(json) as ChatRequest, etag: String(entity.etag) };
}

function indexEntry(request: ChatRequest, state: State): RequestEntity {
  return {
    partitionKey: statePartition(state),
    rowKey: invertId(request.id),
    requestId: request.id,
    dueAt: dueAtOf(request) ?? '',
    // The row version this entry was written for: only that version's writer may remove it.
    version: request.updatedAt,
  };
}

/** When the request next needs attention from the timer (pending checks, stale attempts). */
function dueAtOf(request: ChatRequest): string | undefined {
  if (request.state === State.pending) return request.operation?.nextCheckAt ?? request.updatedAt;
  if (request.state === State.queued) return request.nextAttemptAt ?? request.updatedAt;
  if (request.state === State.creating) return request.attemptStartedAt ?? request.updatedAt;
  return undefined;
}

export class TableRequestStore implements RequestStore, IdempotencyStore {
  /** `work` is the work table; tests may pass one table for both. */
  constructor(
    private readonly table: TableClient,
    private readonly work: TableClient = table,
  ) {}

  /** The table holding the index of `state`: the work table while there is work to do (not final). */
  private indexTable(state: State): TableClient {
    return isFinal(state) ? this.table : this.work;
  }

  async get(id: string): Promise<Stored<ChatRequest> | undefined> {
    let stored: Stored<ChatRequest>;
    try {
      stored = fromEntity(await this.table.getEntity<Record<string, unknown>>(id, REQUEST_RK));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return asStorageError(error, 'read request');
    }
    return stored.value.state === State.pending ? this.withLatestCheck(stored) : stored;
  }

  /** A pending row with the check its work-table entry records (see recordCheck). */
  private async withLatestCheck(stored: Stored<ChatRequest>): Promise<Stored<ChatRequest>> {
    let entry: TableEntityResult<Record<string, unknown>>;
    try {
      entry = await this.work.getEntity(statePartition(State.pending), invertId(stored.value.id));
    } catch (error) {
      // No entry (a crash between the row and its index): the row is the whole truth, and recordCheck creates one.
      if (isNotFound(error)) return stored;
      return asStorageError(error, 'read pending check');
    }
    const checked = { ...stored, checkEtag: String(entry.etag) };
    if (entry.version !== stored.value.updatedAt || typeof entry.check !== 'string') return checked;
    const check = parseCheck(entry.check);
    return check ? { ...checked, value: withCheck(stored.value, check) } : checked;
  }

  async recordCheck(current: Stored<ChatRequest>, check: PendingCheck): Promise<Stored<ChatRequest>> {
    const request = current.value;
    const entity: RequestEntity = {
      ...indexEntry(request, State.pending),
      dueAt: check.nextCheckAt,
      check: checkColumn(check),
    };
    try {
      const result = current.checkEtag
        ? await this.work.updateEntity(entity, 'Replace', { etag: current.checkEtag })
        : await this.work.createEntity(entity);
      return { value: withCheck(request, check), etag: current.etag, checkEtag: String(result.etag) };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error) || isConflict(error)) {
        const winner = await this.get(request.id);
        throw new ConcurrencyConflictError(`Request ${request.id} was checked by another writer`, winner, error);
      }
      return asStorageError(error, 'record check');
    }
  }

  async create(request: ChatRequest, options: { indexed?: boolean } = {}): Promise<Stored<ChatRequest>> {
    try {
      // Indexes first: a crash after them leaves a stale entry, never a request that no index shows.
      if (!options.indexed) await this.indexNew([request]);
      const result = await this.table.createEntity(toEntity(request));
      return { value: request, etag: String(result.etag) };
    } catch (error) {
      if (isConflict(error)) {
        const existing = await this.get(request.id);
        throw new AlreadyExistsError(`Request ${request.id} exists already`, existing, error);
      }
      return asStorageError(error, 'create request');
    }
  }

  async indexNew(requests: ChatRequest[]): Promise<void> {
    const byTable = new Map<TableClient, RequestEntity[]>([
      [this.table, []],
      [this.work, []],
    ]);
    for (const request of requests) {
      byTable.get(this.indexTable(request.state))!.push(indexEntry(request, request.state));
      byTable.get(this.table)!.push({ partitionKey: 'all', rowKey: invertId(request.id), requestId: request.id });
    }
    try {
      await Promise.all([...byTable].map(([table, entries]) => this.upsertGrouped(table, entries)));
    } catch (error) {
      asStorageError(error, 'index new requests');
    }
  }

  async forgetNew(requests: ChatRequest[]): Promise<void> {
    await Promise.all(
      requests.flatMap((r) => [
        this.deleteIndex(this.indexTable(r.state), statePartition(r.state), invertId(r.id)),
        this.deleteIndex(this.table, 'all', invertId(r.id)),
        this.deleteIndex(this.work, 'unsent', r.id),
      ]),
    );
  }

  /** Upserts, one entity group transaction per partition and 100 entities; concurrently. */
  private async upsertGrouped(table: TableClient, entities: RequestEntity[]): Promise<void> {
    if (entities.length === 1) {
      await this.upsertIndex(table, entities[0]!);
      return;
    }
    const byPartition = new Map<string, RequestEntity[]>();
    for (const entity of entities) {
      const group = byPartition.get(entity.partitionKey) ?? [];
      group.push(entity);
      byPartition.set(entity.partitionKey, group);
    }
    const writes: Promise<unknown>[] = [];
    for (const group of byPartition.values()) {
      for (let i = 0; i < group.length; i += 100) {
        const chunk = group.slice(i, i + 100);
        writes.push(
          chunk.length === 1
            ? this.upsertIndex(table, chunk[0]!)
            : table.submitTransaction(chunk.map((e) => ['upsert', e, 'Replace'])),
        );
      }
    }
    await Promise.all(writes);
  }

  async replace(current: Stored<ChatRequest>, next: ChatRequest): Promise<Stored<ChatRequest>> {
    const from = current.value.state;
    try {
      const indexEtag = await this.upsertIndex(this.indexTable(next.state), indexEntry(next, next.state));
      const result = await this.table.updateEntity(toEntity(next), 'Replace', { etag: current.etag });
      if (from !== next.state) await this.deleteStateIndex(from, current.value, current.indexEtag);
      return { value: next, etag: String(result.etag), indexEtag };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) {
        const winner = await this.get(next.id);
        throw new ConcurrencyConflictError(`Request ${next.id} was changed by another writer`, winner, error);
      }
      return asStorageError(error, 'update request');
    }
  }

  async claimKey(key: string, record: IdempotencyRecord): Promise<void> {
    const hash = hashKey(key);
    try {
      await this.table.createEntity({ partitionKey: keyPartition(hash), rowKey: hash, ...record });
    } catch (error) {
      if (isConflict(error)) {
        const existing = await this.findKey(key);
        throw new AlreadyExistsError(`Idempotency key is taken`, existing, error);
      }
      return asStorageError(error, 'claim idempotency key');
    }
  }

  async claimChat(chatId: string, requestId: string): Promise<string> {
    const hash = hashKey(chatId);
    const partitionKey = `chat-${hash.slice(0, 2)}`;
    try {
      await this.table.createEntity({ partitionKey, rowKey: hash, requestId, chatId });
      return requestId;
    } catch (error) {
      if (!isConflict(error)) return asStorageError(error, 'claim chat');
    }
    try {
      return String((await this.table.getEntity<Record<string, unknown>>(partitionKey, hash)).requestId);
    } catch (error) {
      return asStorageError(error, 'read chat owner');
    }
  }

  async findKey(key: string): Promise<IdempotencyRecord | undefined> {
    const hash = hashKey(key);
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>(keyPartition(hash), hash);
      return { requestId: String(entity.requestId), payloadHash: String(entity.payloadHash) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return asStorageError(error, 'read idempotency key');
    }
  }

  async list(query: ListQuery): Promise<ListPage> {
    const partition = query.state ? statePartition(query.state) : 'all';
    const table = query.state ? this.indexTable(query.state) : this.table;
    const clauses = [odata`PartitionKey eq ${partition}`];
    // Newest first: inverted ids sort descending by time; `since` bounds the far end.
    if (query.continuationToken) clauses.push(odata`RowKey gt ${decodeToken(query.continuationToken)}`);
    // Every id is a UUIDv7 (ms since 1970): a `since` at or before 1970 bounds nothing. Its key would be
    // built from a negative time ("-3a…"), which matched no row, so it is left out instead.
    if (query.since && query.since.getTime() > 0) {
      clauses.push(odata`RowKey le ${invertId(lowestIdAt(query.since))}`);
    }
    const items: ChatRequest[] = [];
    let lastKey: string | undefined;
    let more = false;
    try {
      const pages = table
        .listEntities<Record<string, unknown>>({
          queryOptions: { filter: clauses.join(' and '), select: ['RowKey', 'requestId', 'Timestamp'] },
        })
        .byPage({ maxPageSize: Math.min(query.top, 1000) });
      outer: for await (const page of pages) {
        const rows = await Promise.all(
          page.map(async (entry) => ({
            rowKey: String(entry.rowKey),
            indexedAt: entry.timestamp,
            stored: await this.get(String(entry.requestId)),
          })),
        );
        for (const { rowKey, indexedAt, stored } of rows) {
          if (items.length >= query.top) {
            more = true;
            break outer;
          }
          lastKey = rowKey;
          if (!stored) continue;
          if (query.state && stored.value.state !== query.state) {
            if (isStaleIndexEntry(indexedAt, new Date())) await this.dropIndexEntry(query.state, stored.value.id);
            continue;
          }
          items.push(stored.value);
        }
        if (items.length >= query.top) {
          more = Boolean(page.continuationToken);
          break;
        }
      }
    } catch (error) {
      return asStorageError(error, 'list requests');
    }
    return { items, continuationToken: more && lastKey ? encodeToken(lastKey) : undefined };
  }

  async countState(state: State, limit: number): Promise<{ count: number; capped: boolean }> {
    let count = 0;
    try {
      const pages = this.indexTable(state)
        .listEntities({
          queryOptions: { filter: odata`PartitionKey eq ${statePartition(state)}`, select: ['RowKey'] },
        })
        .byPage({ maxPageSize: 1000 });
      for await (const page of pages) {
        count += page.length;
        if (count >= limit) return { count: limit, capped: true };
      }
    } catch (error) {
      return asStorageError(error, 'count requests');
    }
    return { count, capped: false };
  }

  async listDue(state: State, now: Date, limit: number): Promise<DueEntry[]> {
    const filter = odata`PartitionKey eq ${statePartition(state)} and dueAt le ${now.toISOString()}`;
    const due: DueEntry[] = [];
    try {
      for await (const entry of this.indexTable(state).listEntities<Record<string, unknown>>({
        queryOptions: { filter, select: ['requestId', 'dueAt', 'Timestamp'] },
      })) {
        due.push({ id: String(entry.requestId), state, dueAt: String(entry.dueAt), indexedAt: entry.timestamp });
        if (due.length >= limit) break;
      }
    } catch (error) {
      return asStorageError(error, 'list due requests');
    }
    return due;
  }

  async markUnsent(ids: string[], now: Date): Promise<void> {
    try {
      // Entity group transactions of 100: the markers share the "unsent" partition.
      await this.upsertGrouped(
        this.work,
        ids.map((id) => ({ partitionKey: 'unsent', rowKey: id, since: now.toISOString() })),
      );
    } catch (error) {
      return asStorageError(error, 'mark unsent');
    }
  }

  async clearUnsent(id: string): Promise<void> {
    await this.deleteIndex(this.work, 'unsent', id);
  }

  async listUnsent(olderThan: Date, limit: number): Promise<string[]> {
    return this.listMarkers(
      odata`PartitionKey eq 'unsent' and since le ${olderThan.toISOString()}`,
      limit,
      'list unsent',
    );
  }

  async scheduleCallback(id: string, dueAt: Date): Promise<void> {
    try {
      await this.upsertIndex(this.work, { partitionKey: 'callbacks', rowKey: id, dueAt: dueAt.toISOString() });
    } catch (error) {
      asStorageError(error, 'schedule callback');
    }
  }

  async clearCallback(id: string): Promise<void> {
    await this.deleteIndex(this.work, 'callbacks', id);
  }

  async listDueCallbacks(now: Date, limit: number): Promise<string[]> {
    return this.listMarkers(
      odata`PartitionKey eq 'callbacks' and dueAt le ${now.toISOString()}`,
      limit,
      'list due callbacks',
    );
  }

  /** Request ids of the work table's marker rows (RowKey = id) that match, at most `limit`. */
  private async listMarkers(filter: string, limit: number, what: string): Promise<string[]> {
    const ids: string[] = [];
    try {
      for await (const entry of this.work.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
        ids.push(String(entry.rowKey));
        if (ids.length >= limit) break;
      }
    } catch (error) {
      return asStorageError(error, what);
    }
    return ids;
  }

  async dropIndexEntry(state: State, id: string): Promise<void> {
    await this.deleteIndex(this.indexTable(state), statePartition(state), invertId(id));
  }

  /**
   * Removes the entry of the state a request just left, unless a later writer has already moved it
   * back into that state (X → Y → X): then the entry is theirs, and removing it would hide the row.
   * With `writtenEtag` (this store wrote the entry for the version being left) the delete is conditional
   * on it, one call instead of a read and a delete: any later write of the entry changed its ETag.
   */
  private async deleteStateIndex(state: State, left: ChatRequest, writtenEtag?: string): Promise<void> {
    const table = this.indexTable(state);
    const partitionKey = statePartition(state);
    const rowKey = invertId(left.id);
    try {
      if (writtenEtag) {
        await table.deleteEntity(partitionKey, rowKey, { etag: writtenEtag });
        return;
      }
      const entry = await table.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      if (entry.version !== undefined && entry.version !== left.updatedAt) return;
      await table.deleteEntity(partitionKey, rowKey, { etag: entry.etag });
    } catch (error) {
      // Gone already, or rewritten since we read it (then it is someone else's).
      if (isNotFound(error) || isPreconditionFailed(error)) return;
      asStorageError(error, 'delete index entry');
    }
  }

  /** Returns the entry's new ETag. */
  private async upsertIndex(table: TableClient, entity: RequestEntity): Promise<string> {
    return String((await table.upsertEntity(entity, 'Replace')).etag);
  }

  private async deleteIndex(table: TableClient, partitionKey: string, rowKey: string): Promise<void> {
    try {
      await table.deleteEntity(partitionKey, rowKey);
    } catch (error) {
      if (isNotFound(error)) return;
      asStorageError(error, 'delete index entry');
    }
  }
}

function encodeToken(rowKey: string): string {
  return Buffer.from(rowKey, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const rowKey = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(rowKey)) throw new InvalidContinuationTokenError();
  return rowKey;
}

export class InvalidContinuationTokenError extends Error {
  constructor() {
    super('continuationToken is not one this service issued');
    this.name = 'InvalidContinuationTokenError';
  }
}
