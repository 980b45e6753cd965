/**
 * The order of intake's writes (issue 22): keys, then the queue message, then the row, so the common case
 * writes nothing else. The store and queue are the in-memory fakes, wrapped to record each call in order.
 */
import { StorageUnavailableError } from '../../shared/core/errors';
import { type CreateOptions, type IdempotencyKey, idempotencyKeysOf, storageKey } from '../../shared/core/idempotency';
import type { ChatRequest } from '../../shared/core/model';
import type { RequestMessage } from '../../shared/core/queue/port';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import type { ParsedRequest } from '../../shared/core/request/parsed';
import type { Stored } from '../../shared/core/request-store';
import { type BatchItem, type IntakeDeps, submitBatch, submitRequest } from '../../shared/use-cases/intake';
import { MemoryQueue, MemoryRequestStore } from '../support/memory-store';

const NOW = new Date('2026-11-24T12:00:00.000Z');

/** The memory store, recording every write (and whether `create` was told its id was reused from a key). */
class RecordingStore extends MemoryRequestStore {
  constructor(readonly calls: string[]) {
    super();
  }
  /** How many of the next `create` calls fail, as an unavailable table would. */
  failCreates = 0;
  override async claimKey(key: string, record: { requestId: string; payloadHash: string }): Promise<void> {
    this.calls.push(`claimKey ${record.requestId}`);
    return super.claimKey(key, record);
  }
  override async create(request: ChatRequest, options?: CreateOptions): Promise<Stored<ChatRequest>> {
    this.calls.push(`create ${request.id}${options?.reused ? ' reused' : ''}`);
    if (this.failCreates > 0) {
      this.failCreates -= 1;
      throw new StorageUnavailableError('table down');
    }
    return super.create(request);
  }
  override async markUnsent(ids: string[], now: Date): Promise<void> {
    this.calls.push(`markUnsent ${ids.join(',')}`);
    return super.markUnsent(ids, now);
  }
  override async clearUnsent(id: string): Promise<void> {
    this.calls.push(`clearUnsent ${id}`);
    return super.clearUnsent(id);
  }
}

/** The memory queue, recording each send; `failFrom` makes the n-th send and every later one fail. */
class RecordingQueue extends MemoryQueue {
  constructor(readonly calls: string[]) {
    super();
  }
  failFrom = Infinity;
  private attempts = 0;
  override async send(message: RequestMessage, delaySeconds?: number): Promise<void> {
    this.attempts += 1;
    if (this.attempts >= this.failFrom) {
      this.calls.push(`send failed ${message.id}`);
      throw new StorageUnavailableError('queue down');
    }
    this.calls.push(`send ${message.id}`);
    return super.send(message, delaySeconds);
  }
}

function setup() {
  const calls: string[] = [];
  const store = new RecordingStore(calls);
  const queue = new RecordingQueue(calls);
  const logged: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  const deps: IntakeDeps = {
    store,
    queue,
    log: (level, event, fields = {}) => logged.push({ level, event, fields }),
    now: () => NOW,
  };
  return { calls, store, queue, deps, logged };
}

const body = (n = 1, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: `Intake order ${n}`,
  members: [`user${n}@contoso.com`, `user${n + 100}@contoso.com`],
  ...extra,
});

function parse(value: unknown): ParsedRequest {
  const parsed = parseProvisioningRequest(value, NOW);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

async function submit(deps: IntakeDeps, value: unknown, keys?: IdempotencyKey[]) {
  const parsed = parse(value);
  return submitRequest(parsed, payloadHash(parsed), keys ?? idempotencyKeysOf(parsed, {}), deps);
}

const createdId = (result: Awaited<ReturnType<typeof submitRequest>>): string => {
  if (result.kind !== 'created') throw new Error(`expected created, got ${result.kind}`);
  return result.request.id;
};

describe('submitRequest: keys, then the message, then the row', () => {
  it('writes the key, sends {id, attempt 0, sentAt}, inserts the row; nothing else', async () => {
    // Prepare
    const { calls, store, queue, deps, logged } = setup();

    // Act
    const id = createdId(await submit(deps, body(1, { externalId: 'order-1' })));

    // Assess
    expect(calls).toEqual([`claimKey ${id}`, `send ${id}`, `create ${id}`]);
    expect(queue.sent).toEqual([{ message: { id, attempt: 0, sentAt: NOW.toISOString() }, delaySeconds: 0 }]);
    expect(store.rows.has(id)).toBe(true);
    expect(store.unsent.size).toBe(0);
    expect(logged.find((l) => l.event === 'request.accepted')?.fields).toMatchObject({ messageDeferred: false });
  });

  it('without a key: the message, then the row', async () => {
    const { calls, deps } = setup();
    const id = createdId(await submit(deps, body(2)));
    expect(calls).toEqual([`send ${id}`, `create ${id}`]);
  });

  it('keeps the notBefore delay on the message', async () => {
    const { queue, deps } = setup();
    const notBefore = new Date(NOW.getTime() + 3600_000).toISOString();
    createdId(await submit(deps, body(3, { notBefore })));
    expect(queue.sent[0]!.delaySeconds).toBe(3600);
  });

  it('queue down: the unsent marker, then the row; accepted with the message deferred to the timer', async () => {
    // Prepare
    const { calls, store, queue, deps, logged } = setup();
    queue.failFrom = 1;

    // Act
    const id = createdId(await submit(deps, body(4, { externalId: 'order-4' })));

    // Assess
    expect(calls).toEqual([`claimKey ${id}`, `send failed ${id}`, `markUnsent ${id}`, `create ${id}`]);
    expect(store.unsent.has(id)).toBe(true);
    expect(store.rows.get(id)!.value.state).toBe('queued');
    const deferred = logged.find((l) => l.event === 'request.messageDeferred');
    expect(deferred).toMatchObject({ level: 'warn', fields: { requestId: id, error: 'StorageUnavailableError' } });
    expect(logged.find((l) => l.event === 'request.accepted')?.fields).toMatchObject({ messageDeferred: true });
  });

  it('queue and table down: the marker write fails, nothing but the key is written (503 for the caller)', async () => {
    const { calls, store, queue, deps } = setup();
    queue.failFrom = 1;
    store.markUnsent = async () => {
      throw new StorageUnavailableError('table down');
    };
    await expect(submit(deps, body(5, { externalId: 'order-5' }))).rejects.toThrow(StorageUnavailableError);
    expect(store.rows.size).toBe(0);
    expect(calls.filter((c) => c.startsWith('create'))).toEqual([]);
  });

  it('the row fails after the message: the retry with the same key writes the row under that id, then sends', async () => {
    // Prepare: the first try sends its message, then the table fails (a crash there leaves the same)
    const { calls, store, queue, deps } = setup();
    store.failCreates = 1;
    await expect(submit(deps, body(6, { externalId: 'order-6' }))).rejects.toThrow(StorageUnavailableError);
    const firstId = queue.sent[0]!.message.id;
    expect(store.rows.size).toBe(0);
    calls.length = 0;

    // Act
    const id = createdId(await submit(deps, body(6, { externalId: 'order-6' })));

    // Assess
    // The key named an id without a row: the marker, the row, then (its row landed) the message.
    expect(id).toBe(firstId);
    expect(calls).toEqual([
      `claimKey ${calls[0]!.split(' ')[1]}`,
      `markUnsent ${id}`,
      `create ${id} reused`,
      `send ${id}`,
      `clearUnsent ${id}`,
    ]);
    expect(queue.sent.map((s) => s.message.id)).toEqual([id, id]);
    expect(store.rows.has(id)).toBe(true);
  });

  it('a key claimed by an intake that died before sending: the retry writes that id, marker first, and sends after', async () => {
    // Prepare: a key naming an id whose message and row were never written
    const { calls, store, queue, deps } = setup();
    const parsed = parse(body(7, { externalId: 'order-7' }));
    const orphan = '01a23aa1-fd92-77d6-831a-3ee01c1052d2';
    await store.claimKey(storageKey({ source: 'externalId', value: 'order-7' }), {
      requestId: orphan,
      payloadHash: payloadHash(parsed),
    });
    calls.length = 0;

    // Act
    const id = createdId(await submit(deps, body(7, { externalId: 'order-7' })));

    // Assess
    expect(id).toBe(orphan);
    expect(calls.slice(1)).toEqual([
      `markUnsent ${orphan}`,
      `create ${orphan} reused`,
      `send ${orphan}`,
      `clearUnsent ${orphan}`,
    ]);
    expect(queue.sent).toEqual([{ message: { id: orphan, attempt: 0, sentAt: NOW.toISOString() }, delaySeconds: 0 }]);
  });

  it('a replay or a mismatch sends nothing and writes no row', async () => {
    // Prepare
    const { calls, queue, deps } = setup();
    const id = createdId(await submit(deps, body(8, { externalId: 'order-8' })));
    calls.length = 0;

    // Act
    const replay = await submit(deps, body(8, { externalId: 'order-8' }));
    const mismatch = await submit(deps, body(9, { externalId: 'order-8' }));

    // Assess
    expect(replay).toMatchObject({ kind: 'replayed', request: { id } });
    expect(mismatch).toMatchObject({ kind: 'mismatch', requestId: id });
    expect(calls.every((c) => c.startsWith('claimKey'))).toBe(true);
    expect(queue.sent).toHaveLength(1);
  });

  it('concurrent duplicates converge on one row and send at most two messages: the first intake’s and the row writer’s', async () => {
    const { store, queue, deps } = setup();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => submit(deps, body(10, { externalId: 'order-10' }))),
    );
    const ids = outcomes.map((r) => (r.kind === 'created' || r.kind === 'replayed' ? r.request.id : ''));
    expect(new Set(ids).size).toBe(1);
    expect(store.rows.size).toBe(1);
    expect(queue.sent.length).toBeGreaterThanOrEqual(1);
    expect(queue.sent.length).toBeLessThanOrEqual(2);
    expect(new Set(queue.sent.map((s) => s.message.id))).toEqual(new Set(ids));
  });
});

function batchItems(n: number, run: string): BatchItem[] {
  return Array.from({ length: n }, (_, index) => {
    const parsed = parse(body(index + 1, { externalId: `${run}-${index}` }));
    return { index, parsed, hash: payloadHash(parsed), keys: idempotencyKeysOf(parsed, {}) };
  });
}

describe('submitBatch: keys, then messages, then rows', () => {
  it('claims every key before any send, and sends every message before any row', async () => {
    // Prepare
    const { calls, store, queue, deps } = setup();

    // Act
    const { results, storageUnavailable } = await submitBatch(batchItems(5, 'b1'), deps, 2);

    // Assess
    expect(storageUnavailable).toBe(false);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('accepted'));
    const kinds = calls.map((c) => c.split(' ')[0]);
    expect(kinds).toEqual([...Array(5).fill('claimKey'), ...Array(5).fill('send'), ...Array(5).fill('create')]);
    expect(queue.sent.every((s) => s.message.sentAt === NOW.toISOString() && s.message.attempt === 0)).toBe(true);
    expect(store.unsent.size).toBe(0);
  });

  it('queue down midway: the rest get one marker write, before their rows; every item is accepted', async () => {
    // Prepare
    const { calls, store, queue, deps } = setup();
    queue.failFrom = 3;

    // Act
    const { results } = await submitBatch(batchItems(6, 'b2'), deps, 1);

    // Assess
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('accepted'));
    const ids = results.map((r) => (r.status === 'accepted' ? r.id : ''));
    // The first failure stops the sending: the others do not try.
    expect(calls.filter((c) => c.startsWith('send'))).toEqual([
      `send ${ids[0]}`,
      `send ${ids[1]}`,
      `send failed ${ids[2]}`,
    ]);
    const marker = calls.indexOf(`markUnsent ${ids.slice(2).join(',')}`);
    expect(marker).toBeGreaterThan(-1);
    expect(calls.findIndex((c) => c.startsWith('create'))).toBeGreaterThan(marker);
    expect([...store.unsent.keys()].sort()).toEqual(ids.slice(2).sort());
    expect(store.rows.size).toBe(6);
  });

  it('storage failing one row rejects that item for resubmission, which completes it under the same id; the others stand', async () => {
    // Prepare
    const { store, queue, deps } = setup();
    const items = batchItems(4, 'b3');
    store.failCreates = 1;

    // Act
    const first = await submitBatch(items, deps, 1);
    const again = await submitBatch(items, deps, 1);

    // Assess: the failed row's item is rejected, the written ones are accepted; nothing is lost
    expect(first.storageUnavailable).toBe(true);
    expect(first.results.map((r) => r.status)).toEqual(['rejected', 'accepted', 'accepted', 'accepted']);
    expect(first.results[0]).toMatchObject({ errors: [{ message: 'storage was unavailable; resubmit this item' }] });
    expect(again.results.map((r) => r.status)).toEqual(['accepted', 'replayed', 'replayed', 'replayed']);
    const firstIds = queue.sent.slice(0, 4).map((s) => s.message.id);
    expect(again.results.map((r) => (r.status === 'rejected' ? '' : r.id))).toEqual(firstIds);
    expect(store.rows.size).toBe(4);
  });

  it('a repeated item follows its leader; a replay sends nothing', async () => {
    // Prepare
    const { queue, deps } = setup();
    const items = batchItems(2, 'b4');
    await submitBatch(items, deps);
    const sentBefore = queue.sent.length;

    // Act
    const { results } = await submitBatch([...items, { ...items[0]!, index: 2 }], deps);

    // Assess
    expect(results.map((r) => r.status)).toEqual(['replayed', 'replayed', 'replayed']);
    expect(queue.sent).toHaveLength(sentBefore);
  });
});
