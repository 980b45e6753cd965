/**
 * POST /api/requests/batch through HTTP, and the exactly-once claims that need queue messages
 * counted. The worker is disabled here (`AzureWebJobs.worker.Disabled`, honoured by the local host
 * as by Azure), so every message intake sends stays in the queue to be counted; rows are counted in
 * the table with @azure/data-tables.
 * Intake sends a request's message before it inserts the row; a duplicate that finds the key but no row
 * yet writes the row itself and sends only if its row is the one that landed. So concurrent duplicates
 * make one row and at most two messages (same id, attempt 0: the worker acts on it once). Duplicates
 * that come after the row is written are replays and send nothing.
 */
import { randomUUID } from 'node:crypto';
import { TableClient, odata } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { ACTIVE, workTableName } from '../../shared/storage/table-store';
import { startStack, Stack } from '../support/stack';

interface BatchResult {
  accepted: number;
  rejected: number;
  results: {
    index: number;
    status: 'accepted' | 'replayed' | 'rejected';
    id?: string;
    errors?: { path: string; message: string }[];
  }[];
}

interface ProblemBody {
  status: number;
  errors?: { path: string; message: string }[];
}

const item = (externalId: string | undefined, n = 1, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: `Batch ${externalId ?? 'anonymous'}`,
  members: [`user${n}@contoso.com`, `user${n + 1}@contoso.com`],
  ...(externalId === undefined ? {} : { externalId }),
  ...extra,
});

describe('POST /api/requests/batch (worker stopped, so messages can be counted)', () => {
  let stack: Stack;
  let table: TableClient;
  let queue: QueueClient;
  beforeAll(async () => {
    stack = await startStack({ env: { 'AzureWebJobs.worker.Disabled': 'true' } });
    // The worker is stopped, so every request stays queued: its row is in the work table's `active` partition.
    table = TableClient.fromConnectionString(stack.azurite.connectionString, workTableName('ChatRequests'), {
      allowInsecureConnection: true,
    });
    queue = new QueueClient(stack.azurite.connectionString, 'chat-requests');
    // The service creates it on first use; counting before that needs it to exist.
    await queue.createIfNotExists();
    await table.createTable();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const postBatch = (json: unknown, headers: Record<string, string> = {}) =>
    stack.api('/api/requests/batch', { method: 'POST', json, headers });

  async function batchOf(answer: Response): Promise<BatchResult> {
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    return (await answer.json()) as BatchResult;
  }

  const messageCount = async () => (await queue.getProperties()).approximateMessagesCount ?? 0;

  async function rowCount(filter: string): Promise<number> {
    let n = 0;
    for await (const _ of table.listEntities({ queryOptions: { filter, select: ['PartitionKey'] } })) n++;
    return n;
  }
  const rowsWithExternalId = (externalId: string) =>
    rowCount(odata`PartitionKey eq ${ACTIVE} and externalId eq ${externalId}`);
  const allRows = () => rowCount(odata`PartitionKey eq ${ACTIVE}`);

  it('accepts the valid items and reports each invalid one with its index and errors', async () => {
    // Prepare
    const run = randomUUID();
    const requests = [
      item(`${run}-0`, 1),
      item(`${run}-1`, 3, { topic: 'Re: bad' }),
      item(`${run}-2`, 5),
      { chatType: 'meeting', members: 'nobody' },
      item(`${run}-4`, 7, { color: 'blue' }),
      item(undefined, 9),
    ];
    const messagesBefore = await messageCount();

    // Act
    const batch = await batchOf(await postBatch({ requests }));

    // Assess
    expect({ accepted: batch.accepted, rejected: batch.rejected }).toEqual({ accepted: 3, rejected: 3 });
    expect(batch.results.map((r) => [r.index, r.status])).toEqual([
      [0, 'accepted'],
      [1, 'rejected'],
      [2, 'accepted'],
      [3, 'rejected'],
      [4, 'rejected'],
      [5, 'accepted'],
    ]);
    expect(batch.results[1]!.errors).toEqual([{ path: 'requests[1].topic', message: expect.stringMatching(/":"/) }]);
    expect(batch.results[3]!.errors!.map((e) => e.path)).toEqual(
      expect.arrayContaining(['requests[3].chatType', 'requests[3].members']),
    );
    expect(batch.results[4]!.errors).toEqual([
      { path: 'requests[4].color', message: expect.stringMatching(/Unknown field/) },
    ]);
    for (const r of batch.results.filter((r) => r.status === 'accepted')) {
      const answer = await stack.api(`/api/requests/${r.id}`);
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { state: string }).state).toBe('queued');
    }
    expect(await messageCount()).toBe(messagesBefore + 3);
  });

  it('re-posting the same batch replays every item: same ids, no new rows, no new messages', async () => {
    // Prepare
    const run = randomUUID();
    const requests = [item(`${run}-a`, 1), item(`${run}-b`, 2), item(`${run}-c`, 3)];
    const first = await batchOf(await postBatch({ requests }));
    const rowsBefore = await allRows();
    const messagesBefore = await messageCount();

    // Act
    const again = await batchOf(await postBatch({ requests }));

    // Assess
    expect(first.results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(again.results.map((r) => r.status)).toEqual(['replayed', 'replayed', 'replayed']);
    expect(again.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    expect({ accepted: again.accepted, rejected: again.rejected }).toEqual({ accepted: 3, rejected: 0 });
    expect(await allRows()).toBe(rowsBefore);
    expect(await messageCount()).toBe(messagesBefore);
  });

  it('an externalId already used with another payload rejects that item only, naming requests[i].externalId', async () => {
    // Prepare
    const run = randomUUID();
    const single = await stack.api('/api/requests', { method: 'POST', json: item(`${run}-taken`, 1) });
    const { id: takenBy } = (await single.json()) as { id: string };

    // Act
    const batch = await batchOf(
      await postBatch({ requests: [item(`${run}-ok`, 4), item(`${run}-taken`, 2), item(`${run}-ok2`, 6)] }),
    );

    // Assess
    expect(single.status).toBe(202);
    expect(batch.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(batch.results[1]!.errors).toEqual([
      { path: 'requests[1].externalId', message: expect.stringContaining(takenBy) },
    ]);
  });

  it('a duplicate externalId inside one batch: same payload → replayed (same id), other payload → rejected', async () => {
    // Prepare
    const run = randomUUID();
    const requests = [item(`${run}-dup`, 1), item(`${run}-other`, 3), item(`${run}-dup`, 1), item(`${run}-dup`, 5)];
    const messagesBefore = await messageCount();

    // Act
    const batch = await batchOf(await postBatch({ requests }));

    // Assess: decided by position, not by which write won a race
    expect(batch.results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'replayed', 'rejected']);
    expect(batch.results[2]!.id).toBe(batch.results[0]!.id);
    expect(batch.results[3]!.errors).toEqual([
      { path: 'requests[3].externalId', message: expect.stringMatching(/repeats requests\[0\].*different payload/) },
    ]);
    expect(await rowsWithExternalId(`${run}-dup`)).toBe(1);
    expect(await messageCount()).toBe(messagesBefore + 2);
  });

  it('with an Idempotency-Key, items without externalId are replayed by position on a re-post', async () => {
    // Prepare
    const key = randomUUID();
    const requests = [item(undefined, 11), item(undefined, 13)];
    const first = await batchOf(await postBatch({ requests }, { 'idempotency-key': key }));
    const messagesBefore = await messageCount();

    // Act
    const again = await batchOf(await postBatch({ requests }, { 'idempotency-key': key }));
    const changed = await batchOf(
      await postBatch({ requests: [requests[0], item(undefined, 15)] }, { 'idempotency-key': key }),
    );

    // Assess
    expect(first.results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(again.results.map((r) => [r.status, r.id])).toEqual(first.results.map((r) => ['replayed', r.id]));
    expect(changed.results.map((r) => r.status)).toEqual(['replayed', 'rejected']);
    expect(changed.results[1]!.errors).toEqual([
      { path: 'headers.Idempotency-Key', message: expect.stringContaining(first.results[1]!.id!) },
    ]);
    expect(await messageCount()).toBe(messagesBefore);
  });

  it('one item too large to store is rejected alone; the items around it are accepted', async () => {
    // Prepare: schema-valid, but its stored form would not fit a table row
    const run = randomUUID();
    const huge = item(`${run}-huge`, 1, { members: [`${'a'.repeat(500_000)}@x.com`, 'b@x.com'] });
    const requests = [item(`${run}-0`, 1), huge, item(`${run}-2`, 3)];

    // Act
    const batch = await batchOf(await postBatch({ requests }));

    // Assess
    expect(batch.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(batch.results[1]!.errors).toEqual([{ path: 'requests[1]', message: expect.stringMatching(/too|fit/) }]);
    expect(await rowsWithExternalId(`${run}-huge`)).toBe(0);
  });

  it('413 problem for a batch body over 16 MiB', async () => {
    // Act
    const answer = await stack.api('/api/requests/batch', {
      method: 'POST',
      body: `{"requests":[${' '.repeat(16 * 1024 * 1024)}]}`,
      headers: { 'content-type': 'application/json' },
    });

    // Assess
    expect(answer.status).toBe(413);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(((await answer.json()) as ProblemBody).status).toBe(413);
  });

  it('takes 1000 items in one call, each recorded once with one message', async () => {
    // Prepare
    const run = randomUUID();
    const requests = Array.from({ length: 1000 }, (_, i) => item(`${run}-${i}`, (i % 500) * 2 + 1));
    const rowsBefore = await allRows();
    const messagesBefore = await messageCount();

    // Act
    const batch = await batchOf(await postBatch({ requests }));

    // Assess
    expect({ accepted: batch.accepted, rejected: batch.rejected }).toEqual({ accepted: 1000, rejected: 0 });
    expect(batch.results.map((r) => r.index)).toEqual(requests.map((_, i) => i));
    expect(new Set(batch.results.map((r) => r.id)).size).toBe(1000);
    expect(await allRows()).toBe(rowsBefore + 1000);
    expect(await messageCount()).toBe(messagesBefore + 1000);
  });

  it('1001 items → 400 problem naming requests, nothing recorded', async () => {
    // Prepare
    const run = randomUUID();
    const requests = Array.from({ length: 1001 }, (_, i) => item(`${run}-${i}`, 1));
    const rowsBefore = await allRows();

    // Act
    const answer = await postBatch({ requests });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await answer.json()) as ProblemBody;
    expect(problem.status).toBe(400);
    expect(problem.errors).toEqual([{ path: 'requests', message: expect.stringMatching(/at most 1000/) }]);
    expect(await allRows()).toBe(rowsBefore);
  });

  it.each([
    ['an empty list', { requests: [] }, 'requests', /at least one/],
    ['no list', {}, 'requests', /array/],
    ['an unknown field', { requests: [item('x')], priority: 1 }, 'priority', /Unknown field "priority"/],
    ['not an object', [item('x')], '', /JSON object/],
  ])('400 for a batch envelope with %s', async (_name, json, path, message) => {
    // Act
    const answer = await postBatch(json);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await answer.json()) as ProblemBody;
    expect(problem.errors).toEqual(expect.arrayContaining([{ path, message: expect.stringMatching(message) }]));
  });

  it('415 and 400 with the position for a batch that is not JSON', async () => {
    // Act
    const text = await stack.api('/api/requests/batch', {
      method: 'POST',
      body: '{"requests":[]}',
      headers: { 'content-type': 'text/csv' },
    });
    const broken = await stack.api('/api/requests/batch', {
      method: 'POST',
      body: '{"requests": [1, 2,]}',
      headers: { 'content-type': 'application/json' },
    });

    // Assess
    expect(text.status).toBe(415);
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { detail: string }).detail).toMatch(/line 1, column 20/);
  });

  it('50 concurrent posts with one Idempotency-Key → exactly one request row; at most two messages, for it, attempt 0', async () => {
    // Prepare
    const key = randomUUID();
    const body = item(undefined, 21, { topic: `Concurrent ${key}` });
    const rowsBefore = await allRows();
    // An empty queue, so a peek sees every message (a peek shows at most 32).
    await queue.clearMessages();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        stack.api('/api/requests', { method: 'POST', json: body, headers: { 'idempotency-key': key } }),
      ),
    );

    // Assess
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { id: string }[];
    expect(answers.map((a) => a.status).filter((s) => s === 202)).toHaveLength(1);
    expect(answers.map((a) => a.status).filter((s) => s === 200)).toHaveLength(49);
    const ids = new Set(bodies.map((b) => b.id));
    expect(ids.size).toBe(1);
    expect(await allRows()).toBe(rowsBefore + 1);
    // The first intake's message, and one more only if a duplicate's row landed first.
    const sent = await messageCount();
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(2);
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    const messages = peeked.peekedMessageItems.map((m) =>
      JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')),
    );
    expect(messages).toHaveLength(Math.min(sent, 32));
    for (const message of messages) {
      expect(message).toEqual({ id: [...ids][0], attempt: 0, sentAt: expect.stringMatching(/^\d{4}-.+Z$/) });
    }
    // Once the row is there, a duplicate is a replay: it sends nothing.
    const late = await stack.api('/api/requests', { method: 'POST', json: body, headers: { 'idempotency-key': key } });
    expect(late.status).toBe(200);
    expect(await messageCount()).toBe(sent);
  });

  it('50 concurrent posts sharing one externalId, each with its own Idempotency-Key → one row', async () => {
    // Prepare
    const externalId = randomUUID();
    const body = item(externalId, 23);
    const rowsBefore = await allRows();
    const messagesBefore = await messageCount();

    // Act
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        stack.api('/api/requests', { method: 'POST', json: body, headers: { 'idempotency-key': randomUUID() } }),
      ),
    );

    // Assess: every header key is new, yet the externalId makes them one request
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { id: string }[];
    expect(answers.map((a) => a.status).filter((s) => s === 202)).toHaveLength(1);
    expect(answers.map((a) => a.status).filter((s) => s === 200)).toHaveLength(49);
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(await rowsWithExternalId(externalId)).toBe(1);
    expect(await allRows()).toBe(rowsBefore + 1);
    const sent = (await messageCount()) - messagesBefore;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(2);
  });

  it('50 concurrent batches sharing externalIds → one row per externalId, one or two messages each', async () => {
    // Prepare
    const run = randomUUID();
    const requests = Array.from({ length: 5 }, (_, i) => item(`${run}-${i}`, i * 2 + 1));
    const rowsBefore = await allRows();
    const messagesBefore = await messageCount();

    // Act
    const batches = await Promise.all(Array.from({ length: 50 }, () => postBatch({ requests }).then(batchOf)));

    // Assess
    for (let i = 0; i < 5; i++) {
      const outcomes = batches.map((b) => b.results[i]!);
      expect(new Set(outcomes.map((o) => o.id)).size).toBe(1);
      expect(outcomes.filter((o) => o.status === 'accepted')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'replayed')).toHaveLength(49);
    }
    expect(await allRows()).toBe(rowsBefore + 5);
    const sent = (await messageCount()) - messagesBefore;
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(sent).toBeLessThanOrEqual(5 * 2);
  });
});
