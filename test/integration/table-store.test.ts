/**
 * TableRequestStore on Azurite: conditional writes carry the winner, the state indexes are what the
 * timer reads (only due rows of one state), markers for unsent messages and callbacks, large rows.
 */
import { TableClient } from '@azure/data-tables';
import { startAzurite, Azurite } from '../../dev/azurite';
import { AlreadyExistsError, ConcurrencyConflictError } from '../../shared/core/errors';
import { newRequestId } from '../../shared/core/ids';
import { ChatRequest, State } from '../../shared/core/model';
import { lostRace, transition } from '../../shared/core/request-store';
import { invertId, openRequestTables, TableRequestStore } from '../../shared/storage/table-store';

let azurite: Azurite;
let serial = 0;

beforeAll(async () => {
  azurite = await startAzurite({ silent: true });
});
afterAll(async () => {
  await azurite?.stop();
});

/** A store on its own pair of tables, named as the service names them (`<name>` and `<name>Work`). */
async function freshStore(): Promise<{ store: TableRequestStore; table: TableClient; work: TableClient }> {
  serial += 1;
  const { table, work } = openRequestTables(`Store${serial}`, (name) =>
    TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
  );
  await Promise.all([table.createTable(), work.createTable()]);
  return { store: new TableRequestStore(table, work), table, work };
}

async function everyKey(table: TableClient): Promise<string[]> {
  const keys: string[] = [];
  for await (const entity of table.listEntities()) keys.push(`${entity.partitionKey}/${entity.rowKey}`);
  return keys;
}

function request(now = new Date(), overrides: Partial<ChatRequest> = {}): ChatRequest {
  const at = now.toISOString();
  return {
    id: newRequestId(now),
    state: State.queued,
    chatType: 'group',
    topic: 'Store',
    members: [
      { user: 'user1@contoso.com', role: 'owner' },
      { user: 'user2@contoso.com', role: 'owner' },
    ],
    createdAt: at,
    updatedAt: at,
    attempts: 0,
    graphBody: { chatType: 'group', topic: 'Store', members: [] },
    payloadHash: 'h',
    ...overrides,
  };
}

async function partition(table: TableClient, partitionKey: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entity of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${partitionKey}'` } })) {
    keys.push(String(entity.rowKey));
  }
  return keys;
}

describe('TableRequestStore on Azurite', () => {
  it('create is insert-if-absent: the loser gets the stored request', async () => {
    const { store } = await freshStore();
    const first = request();
    await store.create(first);
    const error = await store.create({ ...first, topic: 'Other' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlreadyExistsError);
    expect((error as AlreadyExistsError<{ value: ChatRequest }>).existing.value.topic).toBe('Store');
  });

  it('replace is conditional on the ETag: of two writers from one read, one wins and the loser gets the winner', async () => {
    const { store } = await freshStore();
    const created = await store.create(request());
    const [a, b] = await Promise.allSettled([
      transition(store, created, State.creating, { attempts: 1 }, new Date()),
      transition(store, created, State.failed, { error: { code: 'X', message: 'x', retryable: false } }, new Date()),
    ]);
    const outcomes = [a, b].map((r) => r.status);
    expect(outcomes.sort()).toEqual(['fulfilled', 'rejected']);
    const loser = (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as unknown;
    expect(lostRace(loser)).toBe(true);
    const current = (await store.get(created.value.id))!;
    expect((loser as ConcurrencyConflictError<typeof current>).current?.value.state).toBe(current.value.state);
  });

  it('each state index holds exactly the requests in that state; finished ones leave the due indexes', async () => {
    const { store, table, work } = await freshStore();
    const now = new Date();
    const stored = await store.create(request(now));
    const id = stored.value.id;
    const creating = await transition(
      store,
      stored,
      State.creating,
      { attempts: 1, attemptStartedAt: now.toISOString() },
      now,
    );
    expect(await partition(work, 'state-queued')).toEqual([]);
    expect((await partition(work, 'state-creating')).length).toBe(1);
    const pending = await transition(
      store,
      creating,
      State.pending,
      {
        operation: {
          location: 'https://x/beta/op',
          status: 'notStarted',
          checks: 0,
          nextCheckAt: new Date(now.getTime() + 3000).toISOString(),
        },
      },
      now,
    );
    expect(await partition(work, 'state-creating')).toEqual([]);
    expect((await partition(work, 'state-pending')).length).toBe(1);
    await transition(store, pending, State.succeeded, { chat: { id: '19:a@thread.v2' } }, now);
    expect(await partition(work, 'state-pending')).toEqual([]);
    expect((await partition(table, 'state-succeeded')).length).toBe(1);
    expect(await store.listDue(State.pending, new Date(now.getTime() + 3600_000), 10)).toEqual([]);
    expect((await store.list({ state: State.succeeded, top: 10 })).items.map((r) => r.id)).toEqual([id]);
  });

  it('a finished request leaves nothing in the work table, and no in-flight entry in the requests table', async () => {
    // The timer reads only the work table: history must not grow it (Azurite scans a whole table per query).
    const { store, table, work } = await freshStore();
    const now = new Date();
    const created = await store.create(
      request(now, { callback: { url: 'https://hooks.contoso.com/x', state: 'pending', attempts: 0 } }),
    );
    await store.markUnsent([created.value.id], now);
    expect((await everyKey(work)).sort()).toEqual([
      `state-queued/${invertId(created.value.id)}`,
      `unsent/${created.value.id}`,
    ]);
    await store.clearUnsent(created.value.id);
    const creating = await transition(store, created, State.creating, { attempts: 1 }, now);
    await transition(
      store,
      creating,
      State.failed,
      { error: { code: 'BadRequest', message: 'no', retryable: false } },
      now,
    );
    expect(await everyKey(work)).toEqual([`callbacks/${created.value.id}`]);
    await store.clearCallback(created.value.id);

    expect(await everyKey(work)).toEqual([]);
    expect((await everyKey(table)).map((key) => key.split('/')[0]).sort()).toEqual(
      [created.value.id, 'all', 'state-failed'].sort(),
    );
    expect((await store.list({ state: State.failed, top: 10 })).items.map((r) => r.id)).toEqual([created.value.id]);
    expect((await store.list({ top: 10 })).items.map((r) => r.id)).toEqual([created.value.id]);
  });

  it('X → Y → X: a slow writer does not remove the index entry of the writer that moved the row back', async () => {
    // Prepare: a store whose clean-up of the state-queued entry is held until we let it go.
    const { store, table, work } = await freshStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slowWork = new Proxy(work, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if ((prop === 'getEntity' || prop === 'deleteEntity') && typeof value === 'function') {
          return async (partitionKey: string, ...rest: unknown[]) => {
            if (partitionKey === 'state-queued') await held;
            return (value as (...a: unknown[]) => unknown).call(target, partitionKey, ...rest);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const slow = new TableRequestStore(table, slowWork);
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const id = created.value.id;

    // Act: W1 moves queued → creating but stalls before removing the queued entry; W2 moves it back.
    const w1 = transition(slow, created, State.creating, { attempts: 1 }, new Date(t0 + 1));
    const creating = await waitFor(async () => {
      const row = await store.get(id);
      return row?.value.state === State.creating ? row : undefined;
    });
    await transition(
      store,
      creating,
      State.queued,
      { nextAttemptAt: new Date(t0 + 5000).toISOString() },
      new Date(t0 + 2),
    );
    release();
    await w1;

    // Assess: the row is queued and still listed as queued.
    expect((await store.get(id))!.value.state).toBe(State.queued);
    expect(await partition(work, 'state-queued')).toHaveLength(1);
    expect(await partition(work, 'state-creating')).toEqual([]);
    expect((await store.list({ state: State.queued, top: 10 })).items.map((r) => r.id)).toEqual([id]);
  });

  it('a state change removes the entry this store wrote for the state it leaves without reading it first', async () => {
    // Prepare: a store whose work-table point reads of state-creating are counted.
    const { table, work } = await freshStore();
    let creatingReads = 0;
    const counted = new Proxy(work, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'getEntity' && typeof value === 'function') {
          return (partitionKey: string, ...rest: unknown[]) => {
            if (partitionKey === 'state-creating') creatingReads += 1;
            return (value as (...a: unknown[]) => unknown).call(target, partitionKey, ...rest);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const store = new TableRequestStore(table, counted);
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0 + 1));
    expect(creating.indexEtag).toEqual(expect.any(String));

    // Act
    await transition(store, creating, State.succeeded, {}, new Date(t0 + 2));

    // Assess
    expect(creatingReads).toBe(0);
    expect(await partition(work, 'state-creating')).toEqual([]);
    expect(await partition(table, 'state-succeeded')).toEqual([invertId(created.value.id)]);
  });

  it('an entry rewritten since this store wrote it is left in place by the next state change (superset)', async () => {
    // Prepare: the creating entry is written again by someone else after our transition wrote it.
    const { store, work } = await freshStore();
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0 + 1));
    const rowKey = invertId(created.value.id);
    const entry = await work.getEntity<Record<string, unknown>>('state-creating', rowKey);
    const { etag: _etag, timestamp: _timestamp, ...columns } = entry;
    await work.upsertEntity({ ...columns, partitionKey: 'state-creating', rowKey }, 'Replace');

    // Act
    const done = await transition(store, creating, State.succeeded, {}, new Date(t0 + 2));

    // Assess: the move happened; the rewritten entry is someone else's and stays (readers skip it).
    expect(done.value.state).toBe(State.succeeded);
    expect((await store.get(created.value.id))!.value.state).toBe(State.succeeded);
    expect(await partition(work, 'state-creating')).toEqual([rowKey]);
    expect((await store.list({ state: State.creating, top: 10 })).items).toEqual([]);
  });

  it('listDue reads only entries of that state whose time has come', async () => {
    const { store } = await freshStore();
    const now = Date.now();
    const ids: string[] = [];
    for (const offset of [-2000, -1000, 5000, 60_000]) {
      const created = await store.create(request(new Date(now)));
      const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(now));
      await transition(
        store,
        creating,
        State.pending,
        {
          operation: {
            location: 'l',
            status: 'notStarted',
            checks: 0,
            nextCheckAt: new Date(now + offset).toISOString(),
          },
        },
        new Date(now),
      );
      ids.push(created.value.id);
    }
    const due = await store.listDue(State.pending, new Date(now), 100);
    expect(due.map((d) => d.id).sort()).toEqual(ids.slice(0, 2).sort());
    expect((await store.listDue(State.pending, new Date(now + 10_000), 100)).length).toBe(3);
    expect((await store.listDue(State.pending, new Date(now + 10_000), 2)).length).toBe(2);
  });

  it('a check that leaves a request pending writes its work-table entry, not the row; get shows it', async () => {
    // Prepare: a pending request.
    const { store, table, work } = await freshStore();
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const id = created.value.id;
    const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0));
    const operation = { location: 'l', status: 'notStarted', checks: 0, nextCheckAt: new Date(t0).toISOString() };
    await transition(store, creating, State.pending, { operation }, new Date(t0));
    const rowEtag = async () => String((await table.getEntity(id, 'request')).etag);
    const before = await rowEtag();

    // Act: two checks in turn, the second with an error.
    const read = (await store.get(id))!;
    const next = new Date(t0 + 30_000).toISOString();
    const first = await store.recordCheck(read, { status: 'running', checks: 1, nextCheckAt: next });
    const error = { code: 'ServiceUnavailable', message: 'x'.repeat(40_000), httpStatus: 503, retryable: true };
    const later = new Date(t0 + 90_000).toISOString();
    await store.recordCheck(first, { status: 'running', checks: 2, nextCheckAt: later, error });

    // Assess: the row is untouched; get overlays the latest check; the timer sees the new due time.
    expect(await rowEtag()).toBe(before);
    const seen = (await store.get(id))!;
    expect(seen.value.operation).toEqual({ location: 'l', status: 'running', checks: 2, nextCheckAt: later });
    expect(seen.value.error).toMatchObject({ code: 'ServiceUnavailable', httpStatus: 503 });
    expect(seen.value.error!.message.length).toBeLessThan(30_000);
    expect(seen.value.updatedAt).toBe(created.value.updatedAt);
    expect(await store.listDue(State.pending, new Date(t0 + 60_000), 10)).toEqual([]);
    expect((await store.listDue(State.pending, new Date(t0 + 90_000), 10)).map((d) => d.dueAt)).toEqual([later]);
    expect((await store.list({ state: State.pending, top: 10 })).items[0]!.operation!.checks).toBe(2);

    // A check from a stale read loses, and carries the winner.
    const stale = await store
      .recordCheck(read, { status: 'running', checks: 1, nextCheckAt: next })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConcurrencyConflictError);
    expect((stale as ConcurrencyConflictError<{ value: ChatRequest }>).current!.value.operation!.checks).toBe(2);

    // Settling from the last read keeps the checks in the row and leaves the work table empty.
    const done = await transition(store, seen, State.succeeded, { chat: { id: 'c' } }, new Date(t0 + 91_000));
    expect(done.value.operation!.checks).toBe(2);
    expect((await store.get(id))!.value.operation).toMatchObject({ status: 'running', checks: 2 });
    expect(await everyKey(work)).toEqual([]);
  });

  it('a check column that is not what recordCheck writes is ignored: the row stands, and the next check records', async () => {
    // Prepare: a pending request whose entry's check column was edited by hand.
    const { store, work } = await freshStore();
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0));
    const operation = { location: 'l', status: 'notStarted', checks: 3, nextCheckAt: new Date(t0).toISOString() };
    await transition(store, creating, State.pending, { operation }, new Date(t0));
    const rowKey = invertId(created.value.id);
    for (const check of ['{not json', '{"status":"running","checks":"many","nextCheckAt":"x"}', 'null']) {
      await work.updateEntity({ partitionKey: 'state-pending', rowKey, check }, 'Merge');

      // Act
      const seen = (await store.get(created.value.id))!;

      // Assess
      expect(seen.value.operation).toEqual(operation);
      const next = new Date(t0 + 5000).toISOString();
      const recorded = await store.recordCheck(seen, { status: 'running', checks: 4, nextCheckAt: next });
      expect(recorded.value.operation!.checks).toBe(4);
      expect((await store.get(created.value.id))!.value.operation!.checks).toBe(4);
    }
  });

  it('unsent markers and callback markers: listed when due, gone when cleared', async () => {
    const { store } = await freshStore();
    const now = new Date();
    const [a, b] = [request(now), request(now)];
    await store.markUnsent([a.id, b.id], now);
    expect((await store.listUnsent(new Date(now.getTime() - 1), 10)).length).toBe(0);
    expect((await store.listUnsent(now, 10)).sort()).toEqual([a.id, b.id].sort());
    await store.clearUnsent(a.id);
    await store.clearUnsent(a.id); // idempotent
    expect(await store.listUnsent(now, 10)).toEqual([b.id]);

    await store.scheduleCallback(a.id, new Date(now.getTime() + 1000));
    expect(await store.listDueCallbacks(now, 10)).toEqual([]);
    expect(await store.listDueCallbacks(new Date(now.getTime() + 1000), 10)).toEqual([a.id]);
    await store.clearCallback(a.id);
    expect(await store.listDueCallbacks(new Date(now.getTime() + 1000), 10)).toEqual([]);
  });

  it('a final transition with a callback writes its due marker before the row', async () => {
    const { store } = await freshStore();
    const now = new Date();
    const created = await store.create(
      request(now, { callback: { url: 'https://hooks.contoso.com/x', state: 'delivered', attempts: 3 } }),
    );
    const creating = await transition(store, created, State.creating, { attempts: 1 }, now);
    const done = await transition(store, creating, State.succeeded, { chat: { id: '19:b@thread.v2' } }, now);
    // A new final state is a new event: its delivery starts over.
    expect(done.value.callback).toEqual({ url: 'https://hooks.contoso.com/x', state: 'pending', attempts: 0 });
    expect(await store.listDueCallbacks(new Date(now.getTime() + 60_000), 10)).toEqual([created.value.id]);
  });

  it('stores a request of 250 members (a row split across properties) and reads it back whole', async () => {
    const { store } = await freshStore();
    const members = Array.from({ length: 250 }, (_, i) => ({
      user: `a.very.long.user.principal.name.number.${i}@contoso.onmicrosoft.com`,
      role: 'owner' as const,
    }));
    const big = request(new Date(), {
      members,
      graphBody: {
        chatType: 'group',
        members: members.map((m) => ({
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['owner'],
          'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${m.user}')`,
        })),
      },
    });
    expect(JSON.stringify(big).length).toBeGreaterThan(32_000);
    await store.create(big);
    expect((await store.get(big.id))!.value).toEqual(big);
  });
});

async function waitFor<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met');
}
