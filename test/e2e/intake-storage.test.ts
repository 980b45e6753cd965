/**
 * Nothing half-written: what intake does when storage fails, through HTTP on the local host.
 *
 * How the failures are made, as honestly as the local run allows:
 * - Queue only: the service reaches Azurite's queue endpoint through a TCP proxy owned by this test
 *   (tables go straight to Azurite). Breaking the proxy resets every connection, as a network fault
 *   between the app and the queue service would; the table keeps working and keeps its data, and
 *   healing the proxy brings the same queue back. In-memory Azurite cannot be restarted on its data,
 *   so this is how a "row written, message never sent" request is made for real.
 * - Everything: Azurite itself is stopped (this file starts it, so it controls it): then every
 *   storage call is refused, which must be a 503 problem with Retry-After, never a 500.
 * The timer sends messages for rows whose "unsent" marker is older than a minute. Rather than wait a
 * minute, the test moves the marker's time back (the only thing the timer reads to decide) and runs
 * the timer with invokeTimer.
 */
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { TableClient, odata } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { Azurite, connectionStringFor, startAzurite } from '../../dev/azurite';
import { eventually, startStack, Stack } from '../support/stack';
import { ACTIVE, invertId, openRequestTables } from '../../shared/storage/table-store';

/** A TCP proxy in front of one Azurite service that this test can cut and restore. */
class CuttableProxy {
  #broken = false;
  readonly #sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: URL): Promise<CuttableProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new CuttableProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  private accept(client: net.Socket, target: URL): void {
    if (this.#broken) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  /** Resets every open connection and every new one. */
  cut(): void {
    this.#broken = true;
    for (const socket of this.#sockets) socket.resetAndDestroy();
  }

  restore(): void {
    this.#broken = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Resource {
  id: string;
  state: string;
  attempts: number;
  chat?: { id: string };
}

interface ProblemBody {
  status: number;
  title: string;
  detail?: string;
}

const compact = (topic: string, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic,
  members: ['user1@contoso.com', 'user2@contoso.com'],
  ...extra,
});

describe('intake when storage fails', () => {
  let azurite: Azurite;
  let proxy: CuttableProxy;
  let stack: Stack;
  let workTable: TableClient;
  let queue: QueueClient;

  beforeAll(async () => {
    azurite = await startAzurite({ silent: true });
    proxy = await CuttableProxy.start(new URL(azurite.queueUrl));
    const queueUrl = `http://127.0.0.1:${proxy.port}/devstoreaccount1`;
    const viaProxy = connectionStringFor({ blobUrl: azurite.blobUrl, queueUrl, tableUrl: azurite.tableUrl });
    stack = await startStack({ azurite, env: { AzureWebJobsStorage: viaProxy } });
    // The test's own clients go straight to Azurite, so they see the truth while the proxy is cut.
    ({ work: workTable } = openRequestTables('ChatRequests', (name) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
    ));
    queue = new QueueClient(azurite.connectionString, 'chat-requests');
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
    await azurite?.stop();
  });

  const post = (json: unknown, headers: Record<string, string> = {}) =>
    stack.api('/api/requests', { method: 'POST', json, headers });

  async function resource(id: string): Promise<Resource> {
    const answer = await stack.api(`/api/requests/${id}`);
    expect(answer.status).toBe(200);
    return (await answer.json()) as Resource;
  }

  const succeeded = (id: string) =>
    eventually(async () => {
      const current = await resource(id);
      return current.state === 'succeeded' ? current : undefined;
    });

  async function unsentMarkers(): Promise<{ rowKey: string; since: string }[]> {
    const found: { rowKey: string; since: string }[] = [];
    for await (const e of workTable.listEntities<{ since: string }>({
      queryOptions: { filter: odata`PartitionKey eq 'unsent'` },
    })) {
      found.push({ rowKey: String(e.rowKey), since: e.since });
    }
    return found;
  }

  /** What a minute passing does to the markers: the timer then treats them as abandoned. */
  async function ageMarkers(ids: string[]): Promise<void> {
    const past = new Date(Date.now() - 2 * 60_000).toISOString();
    for (const id of ids) await workTable.upsertEntity({ partitionKey: 'unsent', rowKey: id, since: past }, 'Replace');
  }

  const messagesFor = async (ids: Set<string>) => {
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    return peeked.peekedMessageItems
      .map((m) => JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as { id: string })
      .filter((m) => ids.has(m.id));
  };

  it('with storage up, a request goes through (the stack and the proxy work)', async () => {
    // Act
    const answer = await post(compact(`Warm-up ${randomUUID()}`));

    // Assess
    expect(answer.status).toBe(202);
    const { id } = (await answer.json()) as Resource;
    expect((await succeeded(id)).chat?.id).toMatch(/^19:/);
    expect(await unsentMarkers()).toEqual([]);
  });

  it('queue down: the row and its marker are written, the answer is 202, and the timer sends the message later', async () => {
    // Prepare
    const topic = `Queue down ${randomUUID()}`;
    const externalId = randomUUID();
    proxy.cut();

    // Act 1: the queue refuses, the table takes the row
    const answer = await post(compact(topic, { externalId }));

    // Assess 1: accepted (it is recorded and will be sent), not a 503 inviting a duplicate
    expect(answer.status).toBe(202);
    const { id } = (await answer.json()) as Resource;
    expect((await workTable.getEntity<{ state: string }>(ACTIVE, invertId(id))).state).toBe('queued');
    expect((await unsentMarkers()).map((m) => m.rowKey)).toEqual([id]);
    expect(await messagesFor(new Set([id]))).toEqual([]);
    // A retry by the caller is a replay, not a second request.
    const retry = await post(compact(topic, { externalId }));
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as Resource).id).toBe(id);

    // Act 2: the queue comes back; a minute passes; the timer runs
    proxy.restore();
    await stack.host!.invokeTimer('poller');
    // Not yet a minute: the timer leaves a fresh marker alone (its writer may still be sending).
    expect((await unsentMarkers()).map((m) => m.rowKey)).toEqual([id]);
    await ageMarkers([id]);
    await stack.host!.invokeTimer('poller');

    // Assess 2: the timer found the row, sent its message, the worker made the chat
    expect(await unsentMarkers()).toEqual([]);
    const done = await succeeded(id);
    expect(done.attempts).toBe(1);
    expect(stack.sim.control.chats().chats.filter((c) => c.topic === topic)).toHaveLength(1);
  });

  it('queue down during a batch: every item is recorded and accepted, one wait for the queue, the timer sends them all', async () => {
    // Prepare
    const run = randomUUID();
    const requests = Array.from({ length: 20 }, (_, i) =>
      compact(`Batch queue down ${run} ${i}`, {
        externalId: `${run}-${i}`,
        members: [`user${i + 1}@contoso.com`, `user${i + 30}@contoso.com`],
      }),
    );
    proxy.cut();

    // Act 1
    const answer = await stack.api('/api/requests/batch', { method: 'POST', json: { requests } });

    // Assess 1
    expect(answer.status).toBe(200);
    const batch = (await answer.json()) as { accepted: number; results: { status: string; id: string }[] };
    expect(batch.accepted).toBe(20);
    const ids = batch.results.map((r) => r.id);
    expect((await unsentMarkers()).map((m) => m.rowKey).sort()).toEqual([...ids].sort());

    // Act 2
    proxy.restore();
    await ageMarkers(ids);
    await stack.host!.invokeTimer('poller');

    // Assess 2
    for (const id of ids) expect((await succeeded(id)).state).toBe('succeeded');
    expect(await unsentMarkers()).toEqual([]);
  });

  it('Azurite stopped: 503 problem with Retry-After on both POST routes, never a 500', async () => {
    // Prepare
    await azurite.stop();

    // Act
    const single = await post(compact(`Storage down ${randomUUID()}`), { 'idempotency-key': randomUUID() });
    const unkeyed = await post(compact(`Storage down ${randomUUID()}`));
    const batch = await stack.api('/api/requests/batch', {
      method: 'POST',
      json: { requests: [compact(`Storage down batch ${randomUUID()}`, { externalId: randomUUID() })] },
    });

    // Assess
    for (const answer of [single, unkeyed, batch]) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      const problem = (await answer.json()) as ProblemBody;
      expect(problem.status).toBe(503);
      expect(problem.detail).toMatch(/may not have been recorded/);
    }
  });
});
