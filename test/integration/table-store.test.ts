/**
 * TableRequestStore on Azurite: conditional writes carry the winner, each request row lives in the partition
 * of its state (the timer reads only due rows of one state), moves between partitions that stop halfway,
 * merged listings, markers for unsent messages and callbacks, large rows.
 */
import { TableClient } from '@azure/data-tables';
import { startAzurite, Azurite } from '../../dev/azurite';
import { AlreadyExistsError, ConcurrencyConflictError } from '../../shared/core/errors';
import { newRequestId } from '../../shared/core/ids';
import { ChatRequest, State } from '../../shared/core/model';
import { lostRace, transition } from '../../shared/core/request-store';
import {
  ACTIVE,
  invertId,
  openRequestTables,
  placeOf,
  STRANDED_MOVE_MS,
  TableRequestStore,
} from '../../shared/storage/table-store';

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

describe('TableRequestStore on Azurite', () => {
  it('create is insert-if-absent: the loser gets the stored request', async () => {
    const { store } = await freshStore();
    const first = request();
    await store.create(first);
    const error = await store.create({ ...first, topic: 'Other' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlreadyExistsError);
    expect((error as AlreadyExistsError<{ value: ChatRequest }>).existing.value.topic).toBe('Store');
  });

  it('createMany writes in-flight rows in transactions of 100; an id that exists answers as create would', async () => {
    const { store, table, work } = await freshStore();
    const calls = { submitTransaction: 0, createEntity: 0 };
    const counted = new Proxy(work, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'submitTransaction' || prop === 'createEntity') calls[prop] += 1;
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    const now = new Date();
    const existing = await store.create(request(now, { topic: 'First' }));
    const fresh = Array.from({ length: 150 }, () => request(now));

    // Act: 150 new (two transactions), and one of the second hundred already written.
    const results = await new TableRequestStore(table, counted).createMany([
      ...fresh.slice(0, 120),
      { ...existing.value, topic: 'Again' },
      ...fresh.slice(120),
    ]);

    // Assess
    expect(results).toHaveLength(151);
    const refused = results[120];
    expect(refused).toBeInstanceOf(AlreadyExistsError);
    expect((refused as AlreadyExistsError<{ value: ChatRequest }>).existing.value.topic).toBe('First');
    expect(
      results
        .filter((r) => !(r instanceof AlreadyExistsError))
        .map((r) => (r as { value: ChatRequest }).value.id)
        .sort(),
    ).toEqual(fresh.map((r) => r.id).sort());
    expect((await everyKey(work)).length).toBe(151);
    // The first hundred in one transaction; the second failed on the existing id and went one by one.
    expect(calls).toEqual({ submitTransaction: 2, createEntity: 51 });
    const one = results[0] as { value: ChatRequest; etag: string };
    const moved = await transition(store, one, State.creating, { attempts: 1 }, now);
    expect(moved.value.state).toBe(State.creating);
  });

  it('create of a reused id (from a key) refuses when a finished request has it, and leaves no copy behind', async () => {
    // Prepare: a request that went all the way, out of the in-flight partition.
    const { store, work } = await freshStore();
    const now = new Date();
    const first = await store.create(request(now));
    const creating = await transition(store, first, State.creating, { attempts: 1 }, now);
    await transition(store, creating, State.succeeded, { chat: { id: '19:r@thread.v2' } }, now);

    // Act: a late duplicate creates the same id again, as a key that named it would make it.
    const error = await store.create({ ...first.value, topic: 'Late' }, { reused: true }).catch((e: unknown) => e);
    const fresh = await store.create(request(now), { reused: true });

    // Assess
    expect(error).toBeInstanceOf(AlreadyExistsError);
    expect((error as AlreadyExistsError<{ value: ChatRequest }>).existing.value.state).toBe(State.succeeded);
    expect(await everyKey(work)).toEqual([`active/${invertId(fresh.value.id)}`]);
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

  it('a request row lives in the partition of its state: in flight in the work table, final in the requests table', async () => {
    const { store, table, work } = await freshStore();
    const now = new Date();
    const stored = await store.create(request(now));
    const id = stored.value.id;
    const rowKey = invertId(id);
    expect(await everyKey(work)).toEqual([`active/${rowKey}`]);
    expect(await everyKey(table)).toEqual([]);
    const creating = await transition(
      store,
      stored,
      State.creating,
      { attempts: 1, attemptStartedAt: now.toISOString() },
      now,
    );
    expect(await everyKey(work)).toEqual([`active/${rowKey}`]);
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
    expect((await work.getEntity<Record<string, unknown>>(ACTIVE, rowKey)).state).toBe('pending');
    expect(await store.countState(State.pending, 10)).toEqual({ count: 1, capped: false });
    await transition(store, pending, State.succeeded, { chat: { id: '19:a@thread.v2' } }, now);
    expect(await everyKey(work)).toEqual([]);
    expect(await everyKey(table)).toEqual([`state-succeeded/${rowKey}`]);
    expect((await store.get(id))!.value).toMatchObject({ state: State.succeeded, chat: { id: '19:a@thread.v2' } });
    expect(await store.listDue(State.pending, new Date(now.getTime() + 3600_000), 10)).toEqual([]);
    expect((await store.list({ state: State.succeeded, top: 10 })).items.map((r) => r.id)).toEqual([id]);
    expect(await store.countState(State.pending, 10)).toEqual({ count: 0, capped: false });
    expect(await store.countState(State.succeeded, 10)).toEqual({ count: 1, capped: false });
  });

  it('a finished request leaves nothing in the work table; its markers come and go', async () => {
    // The timer reads only the work table: history must not grow it (Azurite scans a whole table per query).
    const { store, table, work } = await freshStore();
    const now = new Date();
    const created = await store.create(
      request(now, { callback: { url: 'https://hooks.contoso.com/x', state: 'pending', attempts: 0 } }),
    );
    await store.markUnsent([created.value.id], now);
    expect((await everyKey(work)).sort()).toEqual([
      `active/${invertId(created.value.id)}`,
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
    expect(await everyKey(table)).toEqual([`state-failed/${invertId(created.value.id)}`]);
    expect((await store.list({ state: State.failed, top: 10 })).items.map((r) => r.id)).toEqual([created.value.id]);
    expect((await store.list({ top: 10 })).items.map((r) => r.id)).toEqual([created.value.id]);
  });

  it('two writers moving one request to different places from one read: one copy is left, the winner’s', async () => {
    const { store, table, work } = await freshStore();
    const now = new Date();
    const created = await store.create(request(now));
    const creating = await transition(store, created, State.creating, { attempts: 1 }, now);
    const outcomes = await Promise.allSettled([
      transition(store, creating, State.succeeded, { chat: { id: '19:c@thread.v2' } }, now),
      transition(store, creating, State.failed, { error: { code: 'X', message: 'x', retryable: false } }, now),
      transition(store, creating, State.queued, { nextAttemptAt: now.toISOString() }, now),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ value: ChatRequest }>).value.value;
    for (const o of outcomes) if (o.status === 'rejected') expect(lostRace(o.reason)).toBe(true);
    const copies = [...(await everyKey(work)), ...(await everyKey(table))];
    expect(copies).toEqual([`${placeOf(winner.state)}/${invertId(created.value.id)}`]);
    expect((await store.get(created.value.id))!.value.state).toBe(winner.state);
  });

  it('a move whose writer stopped after the deciding write is shown as decided and finished later', async () => {
    // Prepare: a store whose inserts into state-succeeded fail (the process died after its first write).
    const { store, table, work } = await freshStore();
    const failing = new Proxy(table, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'createEntity') {
          return () => Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const dying = new TableRequestStore(failing, work);
    const t0 = new Date();
    const created = await store.create(request(t0));
    const id = created.value.id;
    const creating = await transition(store, created, State.creating, { attempts: 1 }, t0);

    // Act
    await expect(
      transition(dying, creating, State.succeeded, { chat: { id: '19:d@thread.v2' } }, t0),
    ).rejects.toThrow();

    // Assess: decided (get shows it) but not yet in place; the timer's sweep finishes it once it is old.
    expect((await store.get(id))!.value.state).toBe(State.succeeded);
    expect(await everyKey(table)).toEqual([]);
    expect(await store.finishStrandedMoves(t0, 10)).toBe(0);
    const later = new Date(Date.now() + STRANDED_MOVE_MS + 60_000);
    expect(await store.finishStrandedMoves(later, 10)).toBe(1);
    expect(await everyKey(work)).toEqual([]);
    expect(await everyKey(table)).toEqual([`state-succeeded/${invertId(id)}`]);
    expect((await store.list({ state: State.succeeded, top: 10 })).items.map((r) => r.id)).toEqual([id]);
  });

  it('an operator retry moves a failed request back in flight; a stray left behind never shows', async () => {
    // Prepare: a failed request, and a store whose deletes in the requests table fail.
    const { store, table, work } = await freshStore();
    const t0 = new Date();
    const created = await store.create(request(t0));
    const failed = await transition(
      store,
      created,
      State.failed,
      { error: { code: 'X', message: 'x', retryable: false } },
      t0,
    );
    const undeleting = new Proxy(table, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'deleteEntity') return () => Promise.reject(new Error('delete failed'));
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const id = created.value.id;

    // Act
    const retried = await transition(
      new TableRequestStore(undeleting, work),
      failed,
      State.queued,
      { error: undefined },
      t0,
    );

    // Assess: queued wherever it is read from; the failed copy left behind is a stray.
    expect(retried.value.state).toBe(State.queued);
    expect(await everyKey(table)).toEqual([`state-failed/${invertId(id)}`]);
    expect((await store.get(id))!.value.state).toBe(State.queued);
    expect((await store.list({ state: State.failed, top: 10 })).items).toEqual([]);
    expect((await store.list({ state: State.queued, top: 10 })).items.map((r) => r.id)).toEqual([id]);
    expect((await store.list({ top: 10 })).items.map((r) => r.state)).toEqual([State.queued]);
    expect(await store.countState(State.failed, 10)).toEqual({ count: 0, capped: false });

    // It fails again: the move overwrites the stray.
    const creating = await transition(store, (await store.get(id))!, State.creating, { attempts: 1 }, t0);
    await transition(store, creating, State.failed, { error: { code: 'Y', message: 'y', retryable: false } }, t0);
    expect(await everyKey(work)).toEqual([]);
    expect((await store.get(id))!.value.error!.code).toBe('Y');
    expect((await store.list({ state: State.failed, top: 10 })).items.map((r) => r.error!.code)).toEqual(['Y']);
  });

  it('listing without a state merges the three places newest first, page by page', async () => {
    const { store } = await freshStore();
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const created = await store.create(request(new Date(t0 + i)));
      ids.push(created.value.id);
      if (i % 3 === 1)
        await transition(
          store,
          created,
          State.failed,
          { error: { code: 'X', message: 'x', retryable: false } },
          new Date(t0),
        );
      if (i % 3 === 2) {
        const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0));
        await transition(store, creating, State.succeeded, { chat: { id: `19:${i}@thread.v2` } }, new Date(t0));
      }
    }
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await store.list({ top: 3, continuationToken: token });
      seen.push(...result.items.map((r) => r.id));
      token = result.continuationToken;
      if (!token) break;
    }
    expect(seen).toEqual([...ids].reverse());
    const since = await store.list({ top: 10, since: new Date(t0 + 4) });
    expect(since.items.map((r) => r.id)).toEqual(ids.slice(4).reverse());
  });

  it('listDue reads only requests of that state whose time has come', async () => {
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
    await store.create(request(new Date(now))); // queued, due at once: not a pending one
    const due = await store.listDue(State.pending, new Date(now), 100);
    expect(due.map((d) => d.id).sort()).toEqual(ids.slice(0, 2).sort());
    expect((await store.listDue(State.pending, new Date(now + 10_000), 100)).length).toBe(3);
    expect((await store.listDue(State.pending, new Date(now + 10_000), 2)).length).toBe(2);
  });

  it('a check that leaves a request pending rewrites its row in place, keeping updatedAt', async () => {
    // Prepare: a pending request.
    const { store, work } = await freshStore();
    const t0 = Date.now();
    const created = await store.create(request(new Date(t0)));
    const id = created.value.id;
    const creating = await transition(store, created, State.creating, { attempts: 1 }, new Date(t0));
    const operation = { location: 'l', status: 'notStarted', checks: 0, nextCheckAt: new Date(t0).toISOString() };
    await transition(store, creating, State.pending, { operation }, new Date(t0));

    // Act: two checks in turn, the second with a long error.
    const read = (await store.get(id))!;
    const next = new Date(t0 + 30_000).toISOString();
    const first = await store.recordCheck(read, { status: 'running', checks: 1, nextCheckAt: next });
    const error = { code: 'ServiceUnavailable', message: 'x'.repeat(40_000), httpStatus: 503, retryable: true };
    const later = new Date(t0 + 90_000).toISOString();
    await store.recordCheck(first, { status: 'running', checks: 2, nextCheckAt: later, error });

    // Assess: get shows the latest check; the timer sees the new due time.
    const seen = (await store.get(id))!;
    expect(seen.value.operation).toEqual({ location: 'l', status: 'running', checks: 2, nextCheckAt: later });
    expect(seen.value.error).toEqual(error);
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

    // Settling from the last read keeps the checks and leaves the work table empty.
    const done = await transition(store, seen, State.succeeded, { chat: { id: 'c' } }, new Date(t0 + 91_000));
    expect(done.value.operation!.checks).toBe(2);
    expect((await store.get(id))!.value.operation).toMatchObject({ status: 'running', checks: 2 });
    expect(await everyKey(work)).toEqual([]);
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
