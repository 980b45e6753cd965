import { ConcurrencyConflictError, StorageUnavailableError } from '../../shared/core/errors';
import { newRequestId } from '../../shared/core/ids';
import { newChatRequest } from '../../shared/use-cases/intake';
import { silentLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import type { RequestMessage } from '../../shared/core/queue/port';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { sendMessage, Stored, transition, transitionAndSend } from '../../shared/core/request-store';
import { retryFailedRequest } from '../../shared/use-cases/retry';
import { MemoryQueue, MemoryRequestStore } from '../support/memory-store';

const now = new Date('2026-11-24T12:00:00Z');

class FailingQueue extends MemoryQueue {
  override async send(_message: RequestMessage, _delaySeconds?: number): Promise<void> {
    throw new StorageUnavailableError('queue down');
  }
}

async function stored(store: MemoryRequestStore, state: State = State.queued): Promise<Stored<ChatRequest>> {
  const parsed = parseProvisioningRequest(
    { chatType: 'oneOnOne', members: ['ana@contoso.com', 'bo@contoso.com'] },
    now,
  );
  if (!parsed.ok) throw new Error('fixture does not parse');
  let row = await store.create(newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now), now));
  if (state === State.failed) {
    row = await transition(store, row, State.creating, { attempts: 1 }, now);
    row = await transition(store, row, State.failed, { error: { code: 'X', message: 'x', retryable: false } }, now);
  }
  return row;
}

describe('sendMessage: the message of a written request, then its unsent marker cleared', () => {
  it('sends {id, attempt} with the delay and clears the marker', async () => {
    // Prepare
    const store = new MemoryRequestStore();
    const queue = new MemoryQueue();
    const row = await stored(store);
    await store.markUnsent([row.value.id], now);
    // Act
    await sendMessage({ store, queue }, row.value, { delaySeconds: 7, clearMarker: 'await' });
    // Assess
    expect(queue.sent).toEqual([{ message: { id: row.value.id, attempt: 0 }, delaySeconds: 7 }]);
    expect(store.unsent.has(row.value.id)).toBe(false);
  });

  it('a failed send is thrown, and the marker stays for the timer', async () => {
    const store = new MemoryRequestStore();
    const deps = { store, queue: new FailingQueue() };
    const row = await stored(store);
    await store.markUnsent([row.value.id], now);

    await expect(sendMessage(deps, row.value, { clearMarker: 'quiet' })).rejects.toThrow(StorageUnavailableError);

    expect(store.unsent.has(row.value.id)).toBe(true);
  });

  it('a marker that cannot be cleared fails the caller only with clearMarker await', async () => {
    const store = new MemoryRequestStore();
    store.clearUnsent = async () => {
      throw new StorageUnavailableError('table down');
    };
    const row = await stored(store);
    const deps = { store, queue: new MemoryQueue() };

    await expect(sendMessage(deps, row.value, { clearMarker: 'quiet' })).resolves.toBeUndefined();
    await expect(sendMessage(deps, row.value, { clearMarker: 'await' })).rejects.toThrow(StorageUnavailableError);
  });
});

describe('transitionAndSend: marker, move, message, marker cleared', () => {
  it('leaves the marker when the send fails after the move, so the timer sends it', async () => {
    const store = new MemoryRequestStore();
    const row = await stored(store, State.failed);

    await expect(
      transitionAndSend({ store, queue: new FailingQueue() }, row, State.queued, {}, now, { delaySeconds: 5 }),
    ).rejects.toThrow(StorageUnavailableError);

    expect((await store.get(row.value.id))?.value.state).toBe(State.queued);
    expect(store.unsent.has(row.value.id)).toBe(true);
  });

  it('writes nothing but the marker when another writer won the move', async () => {
    const store = new MemoryRequestStore();
    const queue = new MemoryQueue();
    const row = await stored(store, State.failed);
    await store.replace(row, { ...row.value, updatedAt: 'elsewhere' });

    await expect(transitionAndSend({ store, queue }, row, State.queued, {}, now)).rejects.toThrow(
      ConcurrencyConflictError,
    );

    expect(queue.sent).toEqual([]);
  });
});

describe('retryFailedRequest (the operator retry)', () => {
  it('moves failed → queued, keeps the error visible and sends the next attempt at once', async () => {
    const store = new MemoryRequestStore();
    const queue = new MemoryQueue();
    const row = await stored(store, State.failed);

    const result = await retryFailedRequest(row.value.id, { store, queue, log: silentLogger, now: () => now });

    expect(result.kind).toBe('retried');
    const after = (await store.get(row.value.id))!.value;
    expect(after.state).toBe(State.queued);
    expect(after.error?.code).toBe('X');
    expect(queue.sent).toEqual([{ message: { id: row.value.id, attempt: 1 }, delaySeconds: 0 }]);
    expect(store.unsent.has(row.value.id)).toBe(false);
  });

  it('answers not-found and not-retryable without writing', async () => {
    const store = new MemoryRequestStore();
    const queue = new MemoryQueue();
    const row = await stored(store);

    const missing = await retryFailedRequest(newRequestId(now), { store, queue, log: silentLogger });
    const queued = await retryFailedRequest(row.value.id, { store, queue, log: silentLogger });

    expect(missing).toEqual({ kind: 'not-found' });
    expect(queued).toEqual({ kind: 'not-retryable', state: State.queued });
    expect(queue.sent).toEqual([]);
    expect(store.unsent.size).toBe(0);
  });
});
