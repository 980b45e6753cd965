import { eventually, startStack, Stack } from '../support/stack';

/** The status API through HTTP on the local host: get, list (state, externalId, since, paging), retry, health. */

interface Resource {
  id: string;
  state: string;
  externalId?: string;
}

const body = (n: number, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: `Status ${n}`,
  externalId: `status-${n}`,
  members: [`user${n}@contoso.com`, `user${n + 500}@contoso.com`, `user${n + 900}@contoso.com`],
  ...extra,
});

describe('status API', () => {
  let stack: Stack;
  const ids: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ env: { NEW_USER_GRACE_MINUTES: '0.02' } });
    for (let n = 1; n <= 7; n += 1) {
      const answer = await stack.api('/api/requests', { method: 'POST', json: body(n) });
      ids.push(((await answer.json()) as Resource).id);
    }
    // One request that fails: its member has no license (403 after the short grace window).
    const failing = await stack.api('/api/requests', {
      method: 'POST',
      json: { ...body(8), members: ['unlicensed8@contoso.com', 'user508@contoso.com'] },
    });
    ids.push(((await failing.json()) as Resource).id);
    await eventually(async () => {
      const states = await Promise.all(
        ids.map(async (id) => ((await (await stack.api(`/api/requests/${id}`)).json()) as Resource).state),
      );
      return states.every((s) => s === 'succeeded' || s === 'failed') ? states : undefined;
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('GET by id; unknown or malformed id → 404 problem', async () => {
    expect((await stack.api(`/api/requests/${ids[0]}`)).status).toBe(200);
    for (const id of ['01a20ded-0000-7000-8000-000000000000', 'not-an-id']) {
      const answer = await stack.api(`/api/requests/${id}`);
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('lists newest first and pages with nextLink until the end', async () => {
    const seen: string[] = [];
    let next: string | undefined = '/api/requests?top=3';
    for (let page = 0; next && page < 10; page += 1) {
      const answer = await stack.api(next);
      if (answer.status !== 200) throw new Error(`${next}: ${await answer.text()}`);
      const list = (await answer.json()) as { value: Resource[]; nextLink?: string };
      expect(list.value.length).toBeLessThanOrEqual(3);
      seen.push(...list.value.map((r) => r.id));
      next = list.nextLink;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('filters by state, externalId and since', async () => {
    const failed = (await (await stack.api('/api/requests?state=failed')).json()) as { value: Resource[] };
    expect(failed.value.map((r) => r.id)).toEqual([ids[7]]);
    const succeeded = (await (await stack.api('/api/requests?state=succeeded&top=100')).json()) as {
      value: Resource[];
    };
    expect(succeeded.value).toHaveLength(7);
    const one = (await (await stack.api('/api/requests?externalId=status-3')).json()) as { value: Resource[] };
    expect(one.value.map((r) => r.id)).toEqual([ids[2]]);
    const future = (await (
      await stack.api(`/api/requests?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    ).json()) as {
      value: Resource[];
    };
    expect(future.value).toEqual([]);
    const recent = (await (await stack.api('/api/requests?since=1h&top=100')).json()) as { value: Resource[] };
    expect(recent.value).toHaveLength(8);
  });

  it('every accepted since works: before 1970, at 1970, far back as a duration, and the last ISO instant', async () => {
    const count = async (since: string): Promise<number> => {
      const answer = await stack.api(`/api/requests?top=100&since=${encodeURIComponent(since)}`);
      if (answer.status !== 200) throw new Error(`${since}: ${answer.status} ${await answer.text()}`);
      return ((await answer.json()) as { value: Resource[] }).value.length;
    };
    for (const since of ['0001-01-01T00:00:00Z', '0000-01-01T00:00:00+23:59', '1969-12-31T23:59:59Z', '999999d']) {
      expect([since, await count(since)]).toEqual([since, 8]);
    }
    expect(await count('1970-01-01T00:00:00Z')).toBe(8);
    expect(await count('9999-12-31T23:59:59-23:59')).toBe(0);
    // The same bound on a state index.
    const old = await stack.api('/api/requests?state=failed&since=0001-01-01T00:00:00Z');
    expect(((await old.json()) as { value: Resource[] }).value.map((r) => r.id)).toEqual([ids[7]]);
  });

  it('nextLink never carries the function key given as ?code=', async () => {
    const answer = await stack.api(`/api/requests?code=${encodeURIComponent(stack.functionKey)}&top=1`, { key: null });
    expect(answer.status).toBe(200);
    const list = (await answer.json()) as { value: Resource[]; nextLink?: string };
    expect(list.nextLink).toBeDefined();
    expect(list.nextLink).not.toContain(stack.functionKey);
    expect(new URL(list.nextLink!, 'http://x').searchParams.has('code')).toBe(false);
    // The link still works with the key given again (as a header here).
    const next = await stack.api(list.nextLink!);
    expect(next.status).toBe(200);
    expect(((await next.json()) as { value: Resource[] }).value).toHaveLength(1);
  });

  it('bad filters → 400 naming them', async () => {
    const answer = await stack.api('/api/requests?state=done&top=0&continuationToken=zzz');
    expect(answer.status).toBe(400);
    const problem = (await answer.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['state', 'top']));
    const token = await stack.api('/api/requests?continuationToken=bm9wZQ');
    expect(token.status).toBe(400);
  });

  it('retry: 409 unless failed; from failed → 202 queued', async () => {
    const conflict = await stack.api(`/api/requests/${ids[0]}/retry`, { method: 'POST' });
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { state: string }).state).toBe('succeeded');
    const retried = await stack.api(`/api/requests/${ids[7]}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    expect(((await retried.json()) as Resource).state).toBe('queued');
    expect(
      (await stack.api(`/api/requests/01a20ded-0000-7000-8000-000000000000/retry`, { method: 'POST' })).status,
    ).toBe(404);
  });

  it('health is anonymous and reports storage, Graph and the queue', async () => {
    const answer = await stack.api('/api/health', { key: null });
    expect(answer.status).toBe(200);
    const health = (await answer.json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'healthy',
      storage: { ok: true },
      graph: { simulated: true, credential: 'clientSecret' },
    });
    expect(JSON.stringify(health)).not.toContain(stack.sim.clientSecret);
  });

  it('routes with function auth refuse calls without a key', async () => {
    expect((await stack.api('/api/requests', { key: null })).status).toBe(401);
    expect((await stack.api(`/api/requests/${ids[0]}`, { key: 'wrong' })).status).toBe(401);
  });

  it('an unfinished request says why it waits (waiting); a final one does not', async () => {
    const notBefore = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const posted = await stack.api('/api/requests', { method: 'POST', json: body(9, { notBefore }) });
    const id = ((await posted.json()) as Resource).id;
    const expected = { reason: 'notBefore', until: notBefore, message: expect.stringContaining(notBefore) };
    // Intake has sent the message; the worker defers it to notBefore and the request stays queued.
    const read = (await (await stack.api(`/api/requests/${id}`)).json()) as Resource & { waiting?: unknown };
    expect(read).toMatchObject({ state: 'queued', waiting: expected });
    const listed = (await (await stack.api('/api/requests?state=queued')).json()) as {
      value: (Resource & { waiting?: unknown })[];
    };
    expect(listed.value.find((r) => r.id === id)?.waiting).toEqual(expected);
    const done = (await (await stack.api(`/api/requests/${ids[0]}`)).json()) as Record<string, unknown>;
    expect(done).not.toHaveProperty('waiting');
  });
});
