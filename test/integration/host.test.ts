/**
 * The local host against real Azurite, with the fixture app in test/fixtures/host-app.
 * Waits are bounded polls for a condition; nothing asserts on wall-clock time.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { type Azurite, startAzurite } from '../../dev/azurite';
import { type LocalHost, type LocalHostOptions, startLocalHost } from '../../dev/host';
import { QueueListener } from '../../dev/host/queue-listener';
import { recorder } from '../fixtures/host-app/recorder';

// The same module the library finds at runtime; also mapped in jest.config.js for everyone else.
jest.mock('@azure/functions-core', () => jest.requireActual('../../dev/host/functions-core'), { virtual: true });

const fixtureRoot = path.join(__dirname, '../fixtures/host-app');
const fixtureFile = (name: string): string => path.join(fixtureRoot, 'functions', name);
const functionKey = 'test-function-key';
const masterKey = 'test-master-key';
const yearly = '0 0 0 1 1 *';

let azurite: Azurite;
let queues: QueueServiceClient;

beforeAll(async () => {
  azurite = await startAzurite({ silent: true });
  queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
});

afterAll(async () => {
  await azurite?.stop();
});

beforeEach(() => recorder.reset());

/** Polls `condition` until it returns something truthy; fails after `timeoutMs` with `what`. */
async function eventually<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function uniqueQueueName(): string {
  return `fixture-${randomBytes(4).toString('hex')}`;
}

interface Started {
  host: LocalHost;
  lines: Record<string, unknown>[];
}

async function startFixture(options: Partial<LocalHostOptions> = {}): Promise<Started> {
  const lines: Record<string, unknown>[] = [];
  const host = await startLocalHost({
    appRoot: fixtureRoot,
    port: 0,
    functionKeys: [functionKey],
    masterKey,
    logger: (line) => lines.push(line as Record<string, unknown>),
    ...options,
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      FIXTURE_QUEUE: uniqueQueueName(),
      FIXTURE_TIMER_SCHEDULE: yearly,
      ...options.env,
    },
  });
  return { host, lines };
}

const appRoots: string[] = [];
afterAll(() => appRoots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

/** A throw-away app root: its own host.json (and local.settings.json), the fixture's functions. */
function appRootWith(hostJson: object, localSettings?: object): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'host-app-'));
  appRoots.push(root);
  fs.writeFileSync(path.join(root, 'host.json'), JSON.stringify({ version: '2.0', ...hostJson }));
  if (localSettings) fs.writeFileSync(path.join(root, 'local.settings.json'), JSON.stringify(localSettings));
  return root;
}

/** The first visible message, or undefined (also while the queue does not exist yet). */
async function peekFirst(queue: QueueClient): Promise<{ messageText: string } | undefined> {
  try {
    return (await queue.peekMessages()).peekedMessageItems[0];
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

describe('HTTP triggers', () => {
  let started: Started;
  const url = (p: string): string => `${started.host.url}${p}`;

  beforeAll(async () => {
    started = await startFixture();
  });
  afterAll(async () => {
    await started?.host.stop();
  });

  it('routes with the api prefix, case-insensitively, ignoring a trailing slash', async () => {
    // Act
    const response = await fetch(url('/API/Ping/'));
    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('pong');
  });

  it('requires a function key: 401 with an empty body without one', async () => {
    const response = await fetch(url('/api/items/42'));
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('accepts the key in x-functions-key, in ?code=, and the master key', async () => {
    const byHeader = await fetch(url('/api/items/42?a=1'), {
      headers: { 'x-functions-key': functionKey, 'x-trace': 't-1' },
    });
    const byQuery = await fetch(url(`/api/items/42?code=${functionKey}`));
    const byMaster = await fetch(url('/api/items/42'), { headers: { 'x-functions-key': masterKey } });
    expect([byHeader.status, byQuery.status, byMaster.status]).toEqual([200, 200, 200]);
    expect(await byHeader.json()).toEqual({ id: '42', method: 'GET', query: { a: '1' }, trace: 't-1' });
  });

  it('rejects a wrong key, and an empty header hides a good ?code= (the header wins, as in Azure)', async () => {
    const wrong = await fetch(url('/api/items/42'), { headers: { 'x-functions-key': 'nope' } });
    const emptyHeader = await fetch(url(`/api/items/42?code=${functionKey}`), { headers: { 'x-functions-key': '' } });
    expect([wrong.status, emptyHeader.status]).toEqual([401, 401]);
  });

  it('admin level takes the master key only', async () => {
    const withFunctionKey = await fetch(url('/api/admin-only'), { headers: { 'x-functions-key': functionKey } });
    const withMasterKey = await fetch(url('/api/admin-only'), { headers: { 'x-functions-key': masterKey } });
    expect([withFunctionKey.status, withMasterKey.status]).toEqual([401, 200]);
  });

  it('answers 404 for an unknown path, a failed constraint, and a method no function accepts', async () => {
    const headers = { 'x-functions-key': functionKey };
    const unknown = await fetch(url('/api/nowhere'), { headers });
    const notAnInt = await fetch(url('/api/items/abc'), { headers });
    const wrongMethod = await fetch(url('/api/items/42'), { method: 'DELETE', headers });
    const noPrefix = await fetch(url('/ping'));
    expect([unknown.status, notAnInt.status, wrongMethod.status, noPrefix.status]).toEqual([404, 404, 404, 404]);
  });

  it('delivers method, params, query, headers and body to the handler and returns status, headers, cookies, body', async () => {
    // Act
    const response = await fetch(url('/api/echo/alice/more?x=1&x=2&y=z'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-custom': 'custom value' },
      body: 'hello body',
    });
    // Assess
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo-method')).toBe('POST');
    expect(response.headers.get('set-cookie')).toBe('session=abc%20123; path=/; samesite=lax; httponly');
    const echoed = await response.json();
    expect(echoed).toEqual({
      params: { name: 'alice', rest: 'more' },
      query: { x: '1,2', y: 'z' },
      contentType: 'text/plain',
      custom: 'custom value',
      url: `${started.host.url}/api/echo/alice/more?x=1&x=2&y=z`,
      body: 'hello body',
    });
  });

  it('leaves an optional route parameter out when it is missing', async () => {
    const response = await fetch(url('/api/echo/bob'), { method: 'PUT', body: '' });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { params: unknown }).params).toEqual({ name: 'bob' });
    const notAlpha = await fetch(url('/api/echo/b0b'), { method: 'PUT' });
    expect(notAlpha.status).toBe(404);
  });

  it('returns binary bodies byte for byte', async () => {
    const response = await fetch(url('/api/bytes'));
    expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('answers 200 with an empty body when the handler returns nothing', async () => {
    const response = await fetch(url('/api/nothing'));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('turns an unhandled exception into a 500 without details, and logs it', async () => {
    // Act
    const response = await fetch(url('/api/boom'));
    // Assess
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    const end = await eventually('boom end line', () =>
      started.lines.find((l) => l.event === 'invocation' && l.phase === 'end' && l.function === 'boom'),
    );
    expect(end).toMatchObject({ outcome: 'failed', error: { message: expect.stringContaining('kaboom') } });
  });

  it('logs structured start/end lines per invocation and context.log output with its level', async () => {
    await fetch(url('/api/items/7'), { headers: { 'x-functions-key': functionKey } });
    const end = await eventually('getItem end line', () =>
      started.lines.find((l) => l.event === 'invocation' && l.phase === 'end' && l.path === '/api/items/7'),
    );
    const start = started.lines.find(
      (l) => l.event === 'invocation' && l.phase === 'start' && l.invocationId === end.invocationId,
    );
    const userLog = started.lines.find((l) => l.event === 'log' && l.invocationId === end.invocationId);
    expect(start).toMatchObject({ function: 'getItem', trigger: 'http' });
    expect(end).toMatchObject({ outcome: 'succeeded', durationMs: expect.any(Number) });
    expect(userLog).toMatchObject({ level: 'information', category: 'user', message: 'getItem 7' });
  });

  it('serves the host homepage at /', async () => {
    const response = await fetch(url('/'));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('up and running');
  });

  it('answers 413 above the body size limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)', async () => {
    const small = await startFixture({ env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '10' } });
    try {
      const response = await fetch(`${small.host.url}/api/echo/alice`, { method: 'POST', body: 'x'.repeat(11) });
      expect(response.status).toBe(413);
    } finally {
      await small.host.stop();
    }
  });
});

describe('oversized uploads (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)', () => {
  const limit = 256 * 1024;
  const MiB = 1024 * 1024;

  /**
   * Sends `head` and then body bytes until the host answers (at most `offer` bytes), then `after` more bytes
   * the host should not take; resolves with what the host answered, what was sent, and what the host read.
   */
  async function upload(started: Started, head: string, body: (chunk: Buffer) => Buffer, offer: number, after: number) {
    const socket = net.connect(started.host.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let answer = '';
    let sent = 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.write(head);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    while (answer === '' && sent < offer) {
      sent += chunk.length;
      if (!socket.write(body(chunk))) {
        // Wait for room, or for the answer (a host that stops reading never makes room).
        await new Promise<void>((resolve) => {
          socket.once('drain', resolve);
          socket.once('data', () => resolve());
        });
      }
    }
    // The host has answered: offer more than its socket buffers hold; it must not read it.
    for (let extra = 0; extra < after; extra += chunk.length) socket.write(body(chunk));
    await closed;
    const refused = await eventually('the refused upload logged', () =>
      started.lines.find((l) => l.event === 'http' && l.phase === 'refused'),
    );
    return { answer, sent, bytesRead: Number(refused.bytesRead) };
  }

  it('a chunked body over the limit is answered 413 at the limit, and the rest is never read', async () => {
    const started = await startFixture({ env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(limit) } });
    try {
      const head = `POST /api/echo/alice HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const framed = (chunk: Buffer) =>
        Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
      const { answer, sent, bytesRead } = await upload(started, head, framed, 50 * MiB, 8 * MiB);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain('connection: close');
      // Answered long before the 50 MiB were sent, and the 8 MiB offered after the answer stayed unread.
      expect(sent).toBeLessThan(50 * MiB);
      expect(bytesRead).toBeLessThan(limit + 2 * MiB);
    } finally {
      await started.host.stop();
    }
  });

  it('a declared Content-Length over the limit is answered at once, without reading the body', async () => {
    const started = await startFixture({ env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(limit) } });
    try {
      const head = `POST /api/echo/alice HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${50 * MiB}\r\n\r\n`;
      const { answer, bytesRead } = await upload(started, head, (chunk) => chunk, 50 * MiB, 8 * MiB);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(bytesRead).toBeLessThan(2 * MiB);
    } finally {
      await started.host.stop();
    }
  });
});

describe('functionTimeout', () => {
  it('fails an HTTP invocation that runs past it with a 500', async () => {
    // Prepare
    const appRoot = appRootWith({ functionTimeout: '00:00:01' });
    const { host, lines } = await startFixture({ appRoot, entryPoints: [fixtureFile('http.ts')] });
    try {
      // Act
      const response = await fetch(`${host.url}/api/slow?ms=1500`);
      // Assess
      expect(response.status).toBe(500);
      expect(lines.find((l) => l.event === 'invocation' && l.phase === 'end' && l.function === 'slow')).toMatchObject({
        outcome: 'timeout',
      });
      expect(host.functions.map((f) => f.name)).not.toContain('recordQueue');
    } finally {
      await host.stop();
    }
  });
});

describe('queue triggers', () => {
  let started: Started;
  let queue: QueueClient;
  let poison: QueueClient;

  beforeAll(async () => {
    const queueName = uniqueQueueName();
    queue = queues.getQueueClient(queueName);
    poison = queues.getQueueClient(`${queueName}-poison`);
    await queue.create();
    started = await startFixture({
      env: { FIXTURE_QUEUE: queueName, 'AzureWebJobs.recordPoison.Disabled': 'true' },
    });
  });
  afterAll(async () => {
    await started?.host.stop();
  });

  it('decodes base64, JSON-parses, and passes the trigger metadata', async () => {
    // Act
    const sent = await queue.sendMessage(base64(JSON.stringify({ requestId: 'r-1', attempt: 1 })));
    // Assess
    const record = await eventually('message recorded', () => recorder.queue.find((r) => r.function === 'recordQueue'));
    expect(record.message).toEqual({ requestId: 'r-1', attempt: 1 });
    expect(record.triggerMetadata).toMatchObject({
      id: sent.messageId,
      dequeueCount: 1,
      queueTrigger: { requestId: 'r-1', attempt: 1 },
      popReceipt: expect.any(String),
      insertionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/),
      expirationTime: expect.any(String),
      nextVisibleTime: expect.any(String),
    });
    await eventually(
      'message deleted after success',
      async () => (await queue.getProperties()).approximateMessagesCount === 0,
    );
  });

  it('passes a non-JSON body as a string', async () => {
    await queue.sendMessage(base64('just text'));
    const record = await eventually('text recorded', () => recorder.queue.find((r) => r.message === 'just text'));
    expect(record.triggerMetadata?.queueTrigger).toBe('just text');
  });

  it('redelivers a failing message and moves it, intact, to <queue>-poison at maxDequeueCount (3)', async () => {
    // Prepare
    const text = base64(JSON.stringify({ fail: true, marker: 'poison-me' }));
    // Act
    await queue.sendMessage(text);
    // Assess
    const poisoned = await eventually('poison message', () => peekFirst(poison));
    expect(poisoned.messageText).toBe(text);
    const deliveries = recorder.queue.filter((r) => (r.message as { marker?: string })?.marker === 'poison-me');
    expect(deliveries.map((d) => d.triggerMetadata?.dequeueCount)).toEqual([1, 2, 3]);
    expect(started.lines.filter((l) => l.phase === 'released').length).toBeGreaterThanOrEqual(2);
    expect((await queue.peekMessages()).peekedMessageItems).toHaveLength(0);
    await poison.clearMessages();
  });

  it('poisons a message that is not valid base64 without running the function', async () => {
    // Act
    const sent = await queue.sendMessage('not base64!');
    // Assess
    const poisoned = await eventually('poison message', () => peekFirst(poison));
    expect(poisoned.messageText).toBe('not base64!');
    expect(recorder.queue).toHaveLength(0);
    expect(started.lines.find((l) => l.phase === 'poisoned' && l.messageId === sent.messageId)).toMatchObject({
      reason: expect.stringContaining('base64'),
    });
    await poison.clearMessages();
  });

  it('never runs more than batchSize (2) messages at once with newBatchThreshold 0', async () => {
    // Prepare: six held messages
    for (let i = 0; i < 6; i++) await queue.sendMessage(base64(JSON.stringify({ holdOn: `batch-${i}`, i })));
    // Act: release them one by one as they arrive
    for (let released = 0; released < 6; released++) {
      const next = await eventually('a held message', () =>
        recorder.queue.find((r) => (r.message as { i?: number }).i !== undefined && !(r as { done?: boolean }).done),
      );
      (next as { done?: boolean }).done = true;
      recorder.release(`batch-${(next.message as { i: number }).i}`);
    }
    await eventually('all six ran', () => recorder.running.queue === 0 && recorder.queue.length === 6);
    // Assess
    expect(recorder.maxRunning.queue).toBe(2);
  });

  it('writes a queue output binding (base64) that the queue trigger then reads', async () => {
    const response = await fetch(`${started.host.url}/api/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ via: 'output' }),
    });
    expect(response.status).toBe(202);
    const record = await eventually('output message', () =>
      recorder.queue.find((r) => (r.message as { via?: string })?.via),
    );
    expect(record.message).toEqual({ via: 'output' });
  });
});

describe('queue options', () => {
  it('messageEncoding "none" reads plain text messages', async () => {
    // Prepare
    const queueName = uniqueQueueName();
    const queue = queues.getQueueClient(queueName);
    await queue.create();
    const appRoot = appRootWith({
      extensions: { queues: { messageEncoding: 'none', maxPollingInterval: '00:00:00.500' } },
    });
    const { host } = await startFixture({
      appRoot,
      entryPoints: [fixtureFile('queue.ts')],
      env: { FIXTURE_QUEUE: queueName },
    });
    try {
      // Act
      await queue.sendMessage('{"plain":true}');
      // Assess
      const record = await eventually('plain message', () => recorder.queue.find((r) => r.function === 'recordQueue'));
      expect(record.message).toEqual({ plain: true });
    } finally {
      await host.stop();
    }
  });

  it('a poison-queue trigger is an ordinary trigger on <queue>-poison', async () => {
    // Prepare
    const queueName = uniqueQueueName();
    const queue = queues.getQueueClient(queueName);
    await queue.create();
    const appRoot = appRootWith({ extensions: { queues: { maxDequeueCount: 1, maxPollingInterval: '00:00:00.500' } } });
    const { host } = await startFixture({
      appRoot,
      entryPoints: [fixtureFile('queue.ts')],
      env: { FIXTURE_QUEUE: queueName },
    });
    try {
      // Act
      await queue.sendMessage(base64(JSON.stringify({ fail: true, id: 'p-1' })));
      // Assess
      const record = await eventually('poison trigger', () =>
        recorder.queue.find((r) => r.function === 'recordPoison'),
      );
      expect(record.message).toEqual({ fail: true, id: 'p-1' });
    } finally {
      await host.stop();
    }
  });

  it('keeps a message invisible while its function runs by renewing the lease', async () => {
    // Prepare: a 2 s lease renewed every 300 ms
    const queue = queues.getQueueClient(uniqueQueueName());
    await queue.create();
    const lines: Record<string, unknown>[] = [];
    let deliveries = 0;
    const listener = new QueueListener({
      functionName: 'leaseTest',
      queue,
      poisonQueue: undefined,
      options: {
        batchSize: 1,
        newBatchThreshold: 0,
        maxPollingIntervalMs: 200,
        visibilityTimeoutMs: 0,
        maxDequeueCount: 5,
        messageEncoding: 'base64',
      },
      emit: (line) => lines.push(line as Record<string, unknown>),
      leaseMs: 2_000,
      renewEveryMs: 300,
      process: async () => {
        deliveries++;
        await recorder.wait('lease');
        return true;
      },
    });
    listener.start();
    try {
      await queue.sendMessage(base64('hold me'));
      // Act: hold the function until well past the first lease
      await eventually(
        'eight renewals (2.4 s > 2 s lease)',
        () => lines.filter((l) => l.phase === 'lease-renewed').length >= 8,
      );
      // Assess
      expect((await queue.peekMessages()).peekedMessageItems).toHaveLength(0);
      recorder.release('lease');
      await eventually(
        'deleted',
        async () => listener.processing.size === 0 && (await queue.getProperties()).approximateMessagesCount === 0,
      );
      expect(deliveries).toBe(1);
    } finally {
      recorder.release('lease');
      await listener.stopPolling();
    }
  });
});

describe('timer triggers', () => {
  it('invokeTimer runs one tick with a Timer input', async () => {
    const { host } = await startFixture({ entryPoints: [fixtureFile('timer.ts')] });
    try {
      await host.invokeTimer('fixtureTimer');
      expect(recorder.timer).toHaveLength(1);
      expect(recorder.timer[0]?.timer).toEqual({
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: {
          last: '0001-01-01T00:00:00+00:00',
          next: expect.stringMatching(/-01-01T00:00:00\+00:00$/),
          lastUpdated: '0001-01-01T00:00:00+00:00',
        },
      });
      await expect(host.invokeTimer('noSuchTimer')).rejects.toThrow(/noSuchTimer/);
    } finally {
      await host.stop();
    }
  });

  it('ticks on its schedule (seconds field), resolved from a %SETTING%', async () => {
    const { host } = await startFixture({
      entryPoints: [fixtureFile('timer.ts')],
      env: { FIXTURE_TIMER_SCHEDULE: '* * * * * *' },
    });
    try {
      await eventually('two scheduled ticks', () => recorder.timer.length >= 2);
      // More than once a minute: the host keeps no schedule status, so the function sees none.
      expect((recorder.timer[0]?.timer as { scheduleStatus: unknown }).scheduleStatus).toBeNull();
    } finally {
      await host.stop();
    }
  });

  it('never overlaps with itself: ticks during a run are skipped and logged', async () => {
    // Prepare
    recorder.holdTimerOn = 'timer-hold';
    const { host, lines } = await startFixture({
      entryPoints: [fixtureFile('timer.ts')],
      env: { FIXTURE_TIMER_SCHEDULE: '* * * * * *' },
    });
    try {
      await eventually('first run started', () => recorder.running.timer === 1);
      // Act
      const manual = host.invokeTimer('fixtureTimer');
      await eventually('a skipped tick', () =>
        lines.find((l) => l.event === 'timer' && l.phase === 'skipped' && l.reason === 'schedule'),
      );
      // Assess
      expect(lines.find((l) => l.phase === 'skipped' && l.reason === 'manual')).toBeDefined();
      expect(recorder.maxRunning.timer).toBe(1);
      recorder.holdTimerOn = undefined;
      recorder.release('timer-hold');
      await manual;
      await eventually('a later run', () => recorder.timer.length >= 2);
      expect(recorder.maxRunning.timer).toBe(1);
    } finally {
      recorder.release('timer-hold');
      await host.stop();
    }
  });
});

describe('settings', () => {
  it('merges like Core Tools: environment, then the env option, then local.settings.json; stop() takes them back', async () => {
    // Prepare
    const appRoot = appRootWith(
      {},
      {
        IsEncrypted: false,
        Values: { FIXTURE_FROM_SHELL: 'file', FIXTURE_FROM_OPTION: 'file', FIXTURE_FROM_FILE: 'file' },
        Host: { LocalHttpPort: 0 },
      },
    );
    process.env.FIXTURE_FROM_SHELL = 'shell';
    const { host } = await startFixture({
      appRoot,
      port: undefined,
      entryPoints: [fixtureFile('http.ts')],
      env: { FIXTURE_FROM_SHELL: 'option', FIXTURE_FROM_OPTION: 'option' },
    });
    try {
      // Act
      const read = async (name: string): Promise<unknown> =>
        ((await (await fetch(`${host.url}/api/settings/${name}`)).json()) as { value: unknown }).value;
      // Assess
      expect(host.port).not.toBe(7071);
      expect(await read('FIXTURE_FROM_SHELL')).toBe('shell');
      expect(await read('FIXTURE_FROM_OPTION')).toBe('option');
      expect(await read('FIXTURE_FROM_FILE')).toBe('file');
    } finally {
      await host.stop();
    }
    expect(process.env.FIXTURE_FROM_SHELL).toBe('shell');
    expect(process.env.FIXTURE_FROM_OPTION).toBeUndefined();
    expect(process.env.FIXTURE_FROM_FILE).toBeUndefined();
    delete process.env.FIXTURE_FROM_SHELL;
  });

  it('fails clearly when the queue connection setting is missing, and leaves the environment as it was', async () => {
    const before = { ...process.env };
    await expect(
      startLocalHost({
        appRoot: fixtureRoot,
        port: 0,
        logger: () => undefined,
        env: { FIXTURE_QUEUE: 'some-queue', FIXTURE_TIMER_SCHEDULE: yearly },
      }),
    ).rejects.toThrow(/Storage account connection string 'AzureWebJobsStorage' does not exist/);
    expect(process.env).toEqual(before);
  });

  it('fails clearly when an entry point matches nothing', async () => {
    await expect(startFixture({ entryPoints: ['functions/*.nothing'] })).rejects.toThrow(/Found zero files matching/);
  });
});

describe('stop', () => {
  it('waits for in-flight requests, then refuses connections; calling it twice is fine', async () => {
    // Prepare
    const { host, lines } = await startFixture({ entryPoints: [fixtureFile('http.ts')] });
    const inFlight = fetch(`${host.url}/api/slow?ms=300`);
    await eventually('slow started', () => lines.find((l) => l.function === 'slow' && l.phase === 'start'));
    // Act
    await Promise.all([host.stop(), host.stop()]);
    // Assess
    expect((await inFlight).status).toBe(200);
    await expect(fetch(`${host.url}/api/ping`)).rejects.toThrow();
  });
});
