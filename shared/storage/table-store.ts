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
import type { CreateOptions, IdempotencyRecord, IdempotencyStore } from '../core/idempotency';
import { lowestIdAt } from '../core/ids';
import { ChatRequest, isFinal, State } from '../core/model';
import { DueEntry, ListPage, ListQuery, PendingCheck, RequestStore, Stored, withCheck } from '../core/request-store';

/**
 * RequestStore on Azure Table Storage, in two tables (docs/table-schema.md). The requests table
 * (CHAT_REQUESTS_TABLE) keeps the record; its work table (the same name + "Work") keeps only what is
 * in flight, which is all the timer reads, so its queries never touch history (Azurite, unlike Azure,
 * scans a whole table for every query).
 * A request row is its own state index: it lives in the partition of where its state belongs.
 * Work table:
 * - in-flight request: PK = "active",            RK = <inverted id>  queued, creating, pending
 * - unsent marker:     PK = "unsent",            RK = <id>           queue message not yet known sent
 * - callback marker:   PK = "callbacks",         RK = <id>           callback due
 * Requests table:
 * - final request:     PK = "state-succeeded" / "state-failed", RK = <inverted id>
 * - idempotency key:   PK = "key-<hh>",          RK = sha256(key)    first writer wins
 * - chat owner:        PK = "chat-<hh>",         RK = sha256(chat id) the request a group chat is for
 * A change within one place is one conditional replace. A move between places (to a final state, or an
 * operator's retry out of one) first rewrites the copy where it is, conditional on its ETag (that write
 * decides between racing writers), then writes the copy where it belongs, then deletes the old one. So
 * at most one copy is ever in the place its state names, and it is the newest; a copy in the wrong place
 * is a move in flight (its newest revision is the truth) or a stray left behind (an older revision).
 */

// Table string properties hold at most 32K UTF-16 characters; the JSON document is split across columns.
const CHUNK = 30_000;
// An entity holds at most 1 MiB (UTF-16): 15 × 30,000 characters stays under it with room for the rest.
const MAX_CHUNKS = 15;
/** The work table's partition of every in-flight request. */
export const ACTIVE = 'active';
/** A move whose mover stopped between its writes is finished by a reader once it is this old. */
export const STRANDED_MOVE_MS = 5 * 60_000;

/** An id with every hex digit d replaced by 15 − d: ascending row keys are newest first. Its own inverse. */
export function invertId(id: string): string {
  return id.replace(/[0-9a-f]/g, (c) => (15 - parseInt(c, 16)).toString(16));
}

/** The partition a request in `state` belongs in. */
export function placeOf(state: State): string {
  return isFinal(state) ? `state-${state}` : ACTIVE;
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

function toEntity(request: ChatRequest, place: string, rev: number): RequestEntity {
  const json = JSON.stringify(request);
  const chunks = Math.ceil(json.length / CHUNK);
  if (chunks > MAX_CHUNKS) throw new Error(`Request ${request.id} is too large to store (${json.length} characters)`);
  const entity: RequestEntity = {
    partitionKey: place,
    rowKey: invertId(request.id),
    requestId: request.id,
    state: request.state,
    dueAt: dueAtOf(request) ?? '',
    updatedAt: request.updatedAt,
    rev,
    chunks,
  };
  if (request.externalId) entity.externalId = request.externalId;
  for (let i = 0; i < chunks; i += 1) entity[`doc${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
  return entity;
}

/** One stored copy of a request, with what the store needs to judge it. */
interface Copy {
  stored: Stored<ChatRequest>;
  place: string;
  rev: number;
  /** When it was last written (the table's Timestamp). */
  writtenAt?: string;
}

function fromEntity(entity: TableEntityResult<Record<string, unknown>>): Copy {
  const chunks = Number(entity.chunks ?? 0);
  let json = '';
  for (let i = 0; i < chunks; i += 1) json += String(entity[`doc${i}`] ?? '');
  const place = String(entity.partitionKey);
  const rev = Number(entity.rev ?? 0);
  const etag = String(entity.etag);
  return {
    stored: { value: JSON.parse(json) as ChatRequest, etag, at: { place, rev } },
    place,
    rev,
    writtenAt: entity.timestamp,
  };
}

/** True when the copy is in the place its state names. */
function inPlace(copy: Copy): boolean {
  return placeOf(copy.stored.value.state) === copy.place;
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

  /** The table holding `place`: the work table for in-flight requests, the requests table for the rest. */
  private tableOf(place: string): TableClient {
    return place === ACTIVE ? this.work : this.table;
  }

  async get(id: string): Promise<Stored<ChatRequest> | undefined> {
    return this.getAt(id, new Date());
  }

  private async getAt(id: string, now: Date): Promise<Stored<ChatRequest> | undefined> {
    try {
      // In flight is where the worker and the timer look; only a finished (or moving) request needs more.
      const active = await this.readCopy(ACTIVE, id);
      if (active && inPlace(active)) return active.stored;
      const finals = await Promise.all([
        this.readCopy(placeOf(State.succeeded), id),
        this.readCopy(placeOf(State.failed), id),
      ]);
      const copies = [active, ...finals].filter((c): c is Copy => c !== undefined);
      return await this.resolve(copies, now);
    } catch (error) {
      return asStorageError(error, 'read request');
    }
  }

  /** The current copy among a request's copies; clears strays and finishes a stranded move on the way. */
  private async resolve(copies: Copy[], now: Date): Promise<Stored<ChatRequest> | undefined> {
    if (copies.length === 0) return undefined;
    const current = copies.find(inPlace);
    if (current) {
      // Left behind by a move that wrote `current` (or an earlier one): never newer than it.
      await Promise.all(
        copies
          .filter((c) => c !== current && c.rev <= current.rev)
          .map((c) => this.deleteCopy(c.place, c.stored).catch(() => undefined)),
      );
      return current.stored;
    }
    // Nothing in place: a move is in flight, or its mover stopped between the writes. Its newest copy is the truth.
    const newest = copies.reduce((a, b) => (b.rev > a.rev ? b : a));
    if (!isStranded(newest.writtenAt, now)) return newest.stored;
    return this.finishMove(newest.stored);
  }

  private async readCopy(place: string, id: string): Promise<Copy | undefined> {
    try {
      return fromEntity(await this.tableOf(place).getEntity<Record<string, unknown>>(place, invertId(id)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Writes the copy where its state belongs and deletes the one it moved from. */
  private async finishMove(from: Stored<ChatRequest>): Promise<Stored<ChatRequest>> {
    const moved = await this.writeInPlace(from.value, from.at!.rev);
    // A copy left behind is a stray that readers skip and the next move into its place overwrites.
    await this.deleteCopy(from.at!.place, from).catch(() => undefined);
    return moved;
  }

  /**
   * Writes revision `rev` of a request into the place its state names: an insert, or a replace of an older
   * copy found there (a stray of an earlier move). A copy of the same or a later revision there means
   * another writer finished this move (the same revision) or has moved on since (a later one).
   */
  private async writeInPlace(request: ChatRequest, rev: number): Promise<Stored<ChatRequest>> {
    const place = placeOf(request.state);
    const table = this.tableOf(place);
    const entity = toEntity(request, place, rev);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const result = await table.createEntity(entity);
        return { value: request, etag: String(result.etag), at: { place, rev } };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const there = await this.readCopy(place, request.id);
      if (!there) continue;
      if (there.rev === rev) return there.stored;
      if (there.rev > rev) {
        throw new ConcurrencyConflictError(`Request ${request.id} was changed by another writer`, there.stored);
      }
      try {
        const result = await table.updateEntity(entity, 'Replace', { etag: there.stored.etag });
        return { value: request, etag: String(result.etag), at: { place, rev } };
      } catch (error) {
        if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
      }
    }
    throw new Error(`Request ${request.id}: could not write its ${place} copy (kept changing)`);
  }

  /** Deletes a copy conditional on the ETag it was read or written with: a later write keeps it. */
  private async deleteCopy(place: string, copy: Stored<ChatRequest>): Promise<void> {
    try {
      await this.tableOf(place).deleteEntity(place, invertId(copy.value.id), { etag: copy.etag });
    } catch (error) {
      if (isNotFound(error) || isPreconditionFailed(error)) return;
      throw error;
    }
  }

  async recordCheck(current: Stored<ChatRequest>, check: PendingCheck): Promise<Stored<ChatRequest>> {
    // The row lives in the small in-flight partition: a check is one conditional replace; updatedAt stays.
    return this.replace(current, withCheck(current.value, check));
  }

  async create(request: ChatRequest, options: CreateOptions = {}): Promise<Stored<ChatRequest>> {
    const place = placeOf(request.state);
    try {
      const result = await this.tableOf(place).createEntity(toEntity(request, place, 1));
      const created = { value: request, etag: String(result.etag), at: { place, rev: 1 } };
      if (options.reused && place === ACTIVE) await this.undoIfFinished(created);
      return created;
    } catch (error) {
      if (isConflict(error)) {
        const existing = await this.get(request.id);
        throw new AlreadyExistsError(`Request ${request.id} exists already`, existing, error);
      }
      return asStorageError(error, 'create request');
    }
  }

  /**
   * The insert into `active` is exact only there: a request under a reused id may have finished (moved out)
   * since the caller looked. Then the new copy goes, and the caller replays the finished one.
   */
  private async undoIfFinished(created: Stored<ChatRequest>): Promise<void> {
    const finals = await Promise.all([
      this.readCopy(placeOf(State.succeeded), created.value.id),
      this.readCopy(placeOf(State.failed), created.value.id),
    ]);
    if (finals.every((copy) => copy === undefined)) return;
    await this.deleteCopy(ACTIVE, created);
    throw new AlreadyExistsError(`Request ${created.value.id} exists already`, await this.get(created.value.id));
  }

  async createMany(requests: ChatRequest[]): Promise<(Stored<ChatRequest> | Error)[]> {
    const one = (request: ChatRequest) => this.create(request).catch(toError);
    const groups: ChatRequest[][] = [];
    for (let i = 0; i < requests.length; i += 100) groups.push(requests.slice(i, i + 100));
    const written = await Promise.all(
      groups.map(async (group): Promise<(Stored<ChatRequest> | Error)[]> => {
        const place = placeOf(group[0]!.state);
        if (group.length === 1 || group.some((r) => placeOf(r.state) !== place)) return Promise.all(group.map(one));
        try {
          const entities = group.map((r) => toEntity(r, place, 1));
          const result = await this.tableOf(place).submitTransaction(entities.map((e) => ['create', e]));
          const etags = new Map(result.subResponses.map((r) => [r.rowKey, r.etag]));
          return group.map((request) => ({
            value: request,
            etag: String(etags.get(invertId(request.id))),
            at: { place, rev: 1 },
          }));
        } catch (error) {
          // One row exists already (a replayed id) and fails the whole transaction: each on its own, then.
          if (isConflict(error)) return Promise.all(group.map(one));
          // A transaction is all or nothing: none of this group was written.
          const failure = storageFailure(error, 'create requests');
          return group.map(() => failure);
        }
      }),
    );
    return written.flat();
  }

  async replace(current: Stored<ChatRequest>, next: ChatRequest): Promise<Stored<ChatRequest>> {
    const from = current.at?.place ?? placeOf(current.value.state);
    const rev = (current.at?.rev ?? 0) + 1;
    let written: Stored<ChatRequest>;
    try {
      // Where the request is now, conditional on what was read: of two writers, one wins here.
      const result = await this.tableOf(from).updateEntity(toEntity(next, from, rev), 'Replace', {
        etag: current.etag,
      });
      written = { value: next, etag: String(result.etag), at: { place: from, rev } };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) {
        const winner = await this.get(next.id);
        throw new ConcurrencyConflictError(`Request ${next.id} was changed by another writer`, winner, error);
      }
      return asStorageError(error, 'update request');
    }
    if (placeOf(next.state) === from) return written;
    try {
      return await this.finishMove(written);
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) throw error;
      // The change is made (the first write); a reader finishes the move (see resolve).
      return asStorageError(error, 'move request');
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
    // Each place is ordered newest first (inverted ids); `since` bounds the far end, the token the near one.
    const bounds: string[] = [];
    if (query.continuationToken) bounds.push(odata`RowKey gt ${decodeToken(query.continuationToken)}`);
    // Every id is a UUIDv7 (ms since 1970): a `since` at or before 1970 bounds nothing. Its key would be
    // built from a negative time ("-3a…"), which matched no row, so it is left out instead.
    if (query.since && query.since.getTime() > 0) bounds.push(odata`RowKey le ${invertId(lowestIdAt(query.since))}`);
    const pageSize = Math.min(query.top + 1, 1000);
    // With a state: its place, filtered on it. Without: the three places merged (a request that is moving
    // has a copy in two; the newest shows).
    const places = query.state ? [placeOf(query.state)] : [ACTIVE, placeOf(State.succeeded), placeOf(State.failed)];
    const sources = places.map((place) => {
      const clauses = [odata`PartitionKey eq ${place}`, ...bounds];
      if (query.state) clauses.push(odata`state eq ${query.state}`);
      return peekable(this.entities(this.tableOf(place), clauses.join(' and '), pageSize));
    });
    const items: ChatRequest[] = [];
    let lastKey: string | undefined;
    try {
      while (items.length < query.top) {
        const heads = await Promise.all(sources.map((s) => s.peek()));
        const keys = heads.filter((h) => h !== undefined).map((h) => String(h.rowKey));
        if (keys.length === 0) break;
        const rowKey = keys.reduce((a, b) => (b < a ? b : a));
        const copies: Copy[] = [];
        for (const [i, head] of heads.entries()) {
          if (head && head.rowKey === rowKey) {
            copies.push(fromEntity(head));
            await sources[i]!.next();
          }
        }
        lastKey = rowKey;
        const newest = copies.reduce((x, y) => (y.rev > x.rev ? y : x));
        items.push(newest.stored.value);
      }
      const more = (await Promise.all(sources.map((s) => s.peek()))).some((h) => h !== undefined);
      return { items, continuationToken: more && lastKey ? encodeToken(lastKey) : undefined };
    } catch (error) {
      return asStorageError(error, 'list requests');
    }
  }

  /** The entities matching `filter`, page by page as they are consumed. */
  private async *entities(
    table: TableClient,
    filter: string,
    pageSize: number,
    select?: string[],
  ): AsyncGenerator<TableEntityResult<Record<string, unknown>>> {
    const pages = table
      .listEntities<Record<string, unknown>>({ queryOptions: { filter, select } })
      .byPage({ maxPageSize: pageSize });
    for await (const page of pages) yield* page;
  }

  async countState(state: State, limit: number): Promise<{ count: number; capped: boolean }> {
    const place = placeOf(state);
    let count = 0;
    try {
      const filter = odata`PartitionKey eq ${place} and state eq ${state}`;
      for await (const entity of this.entities(this.tableOf(place), filter, 1000, ['RowKey'])) {
        if (entity.rowKey !== undefined) count += 1;
        if (count >= limit) return { count: limit, capped: true };
      }
    } catch (error) {
      return asStorageError(error, 'count requests');
    }
    return { count, capped: false };
  }

  async listDue(state: State, now: Date, limit: number, options: { withRows?: boolean } = {}): Promise<DueEntry[]> {
    const place = placeOf(state);
    const filter = odata`PartitionKey eq ${place} and state eq ${state} and dueAt le ${now.toISOString()}`;
    // With the rows, the caller needs no point read per entry (the query returns them whole anyway).
    const select = options.withRows ? undefined : ['RowKey', 'dueAt'];
    const due: DueEntry[] = [];
    try {
      for await (const entity of this.entities(this.tableOf(place), filter, Math.min(limit, 1000), select)) {
        const entry: DueEntry = { id: invertId(String(entity.rowKey)), state, dueAt: String(entity.dueAt) };
        if (options.withRows) entry.stored = fromEntity(entity).stored;
        due.push(entry);
        if (due.length >= limit) break;
      }
    } catch (error) {
      return asStorageError(error, 'list due requests');
    }
    return due;
  }

  async finishStrandedMoves(now: Date, limit: number): Promise<number> {
    // A final request still in the in-flight partition: its mover stopped after the deciding write.
    const before = new Date(now.getTime() - STRANDED_MOVE_MS).toISOString();
    const filter = `PartitionKey eq '${ACTIVE}' and (state eq 'succeeded' or state eq 'failed') and Timestamp le datetime'${before}'`;
    let finished = 0;
    try {
      for await (const entry of this.entities(this.work, filter, Math.min(limit, 1000), ['RowKey'])) {
        await this.getAt(invertId(String(entry.rowKey)), now);
        finished += 1;
        if (finished >= limit) break;
      }
    } catch (error) {
      return asStorageError(error, 'finish stranded moves');
    }
    return finished;
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
    await this.deleteMarker('unsent', id);
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
      await this.work.upsertEntity({ partitionKey: 'callbacks', rowKey: id, dueAt: dueAt.toISOString() }, 'Replace');
    } catch (error) {
      asStorageError(error, 'schedule callback');
    }
  }

  async clearCallback(id: string): Promise<void> {
    await this.deleteMarker('callbacks', id);
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

  /** Upserts, one entity group transaction per 100 entities (they share one partition); concurrently. */
  private async upsertGrouped(table: TableClient, entities: RequestEntity[]): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < entities.length; i += 100) {
      const chunk = entities.slice(i, i + 100);
      writes.push(
        chunk.length === 1
          ? table.upsertEntity(chunk[0]!, 'Replace')
          : table.submitTransaction(chunk.map((e) => ['upsert', e, 'Replace'])),
      );
    }
    await Promise.all(writes);
  }

  private async deleteMarker(partitionKey: string, rowKey: string): Promise<void> {
    try {
      await this.work.deleteEntity(partitionKey, rowKey);
    } catch (error) {
      if (isNotFound(error)) return;
      asStorageError(error, 'delete marker');
    }
  }
}

/** What a failed call threw, as an Error value. */
function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** The error `asStorageError` throws for `error`, as a value (one per request of a failed transaction). */
function storageFailure(error: unknown, what: string): Error {
  try {
    asStorageError(error, what);
  } catch (thrown) {
    return toError(thrown);
  }
}

/** True when a copy last written at `writtenAt` is older than any move still in flight can be. */
function isStranded(writtenAt: string | undefined, now: Date): boolean {
  return writtenAt !== undefined && now.getTime() - Date.parse(writtenAt) > STRANDED_MOVE_MS;
}

/** An async iterator that can look at its next item without taking it. */
function peekable<T>(source: AsyncIterator<T>): { peek(): Promise<T | undefined>; next(): Promise<void> } {
  let head: Promise<IteratorResult<T>> | undefined;
  return {
    peek: async () => {
      head ??= source.next();
      const result = await head;
      return result.done ? undefined : result.value;
    },
    next: async () => {
      head ??= source.next();
      await head;
      head = undefined;
    },
  };
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
