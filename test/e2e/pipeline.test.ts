import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { eventually, startStack, Stack } from '../support/stack';
import { StoredRows } from '../support/stored-rows';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'graph-examples', `${name}.json`), 'utf8'));

interface Resource {
  id: string;
  state: string;
  chat?: { id: string; webUrl?: string };
  operation?: { status: string; checks: number };
  attempts: number;
}

async function resource(stack: Stack, id: string): Promise<Resource> {
  const answer = await stack.api(`/api/requests/${id}`);
  expect(answer.status).toBe(200);
  return (await answer.json()) as Resource;
}

async function until(stack: Stack, id: string, state: string): Promise<Resource> {
  return eventually(async () => {
    const current = await resource(stack, id);
    return current.state === state ? current : undefined;
  });
}

describe('the pipeline, end to end through HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('003 example 1 → row + message → worker → Graph → succeeded, with the exact body and our token', async () => {
    // Prepare
    const body = fixture('003-example-1');
    const since = stack.sim.control.requests().at(-1)?.seq ?? 0;

    // Act
    const accepted = await stack.api('/api/requests', { method: 'POST', json: body });

    // Assess: the answer
    expect(accepted.status).toBe(202);
    const created = (await accepted.json()) as Resource;
    expect(accepted.headers.get('location')).toBe(`/api/requests/${created.id}`);
    expect(created.state).toBe('queued');

    const done = await until(stack, created.id, 'succeeded');
    expect(done.chat?.id).toMatch(/^19:[0-9a-f-]+_[0-9a-f-]+@unq\.gbl\.spaces$/);
    expect(done.attempts).toBe(1);

    // What reached the simulator: exactly the fixture body, with a bearer token the simulator issued.
    const requests = stack.sim.control.requests(since);
    const posts = requests.filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual(body);
    const bearer = /^Bearer \[redacted\] uti=(\S+)$/.exec(String(posts[0]!.headers.authorization));
    expect(bearer).not.toBeNull();
    expect(stack.sim.control.issuedTokenIds()).toContain(bearer![1]);
    expect(posts[0]!.status).toBe(201);

    // The row in the table and the message flow left nothing behind.
    const row = await new StoredRows(stack.azurite.connectionString).read(created.id);
    expect(row).toMatchObject({ place: 'state-succeeded', request: { state: 'succeeded' } });
  });

  it('202 with installedApps → pending → the timer polls it to succeeded', async () => {
    const accepted = await stack.api('/api/requests', { method: 'POST', json: fixture('003-example-3') });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as Resource;
    const done = await until(stack, id, 'succeeded');
    expect(done.operation?.status).toBe('succeeded');
    expect(done.operation?.checks).toBeGreaterThan(0);
    expect(done.chat?.id).toMatch(/@unq\.gbl\.spaces$/);
  });

  it('every doc example is accepted verbatim and sent to Graph exactly as given', async () => {
    const names = [1, 2, 3, 4, 5, 6, 7].map((n) => `003-example-${n}`).concat([1, 2, 3].map((n) => `002-example-${n}`));
    const since = stack.sim.control.requests().at(-1)?.seq ?? 0;
    const ids: string[] = [];
    for (const name of names) {
      const answer = await stack.api('/api/requests', { method: 'POST', json: fixture(name) });
      expect({ name, status: answer.status }).toEqual({ name, status: 202 });
      ids.push(((await answer.json()) as Resource).id);
    }
    for (const id of ids) await until(stack, id, 'succeeded');
    const sent = stack.sim.control
      .requests(since)
      .filter((r) => r.method === 'POST' && r.path === '/v1.0/chats')
      .map((r) => JSON.stringify(r.body));
    for (const name of names) expect(sent).toContain(JSON.stringify(fixture(name)));
  });

  it("the README's curl body works as pasted", async () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const body = /-d '(\{"chatType".*?\})'/.exec(readme)?.[1];
    expect(body).toBeDefined();
    const accepted = await stack.api('/api/requests', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(accepted.status).toBe(202);
    const done = await until(stack, ((await accepted.json()) as Resource).id, 'succeeded');
    expect(done.chat?.id).toMatch(/@thread\.v2$/);
  });

  it('the queue is drained and nothing went to the poison queue', async () => {
    const poison = new QueueClient(stack.azurite.connectionString, 'chat-requests-poison');
    const props = await poison.getProperties();
    expect(props.approximateMessagesCount).toBe(0);
  });
});
