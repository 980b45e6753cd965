import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runTimerWork } from '../../functions/handlers/poller';
import { loadConfig } from '../../shared/platform/config';
import { jsonLogger } from '../../shared/platform/log';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { APP_ID } from '../support/chaos-load';
import { ChaosReport, LONG } from '../support/chaos-report';
import { ChaosStack, sleep, startChaosStack, waitFor } from '../support/chaos-stack';
import { StorageCall, tableWrite } from '../support/chaos-storage';
import { StoredRows } from '../support/stored-rows';

/**
 * Process faults: the host is a child process killed with SIGKILL at each step around the table writes,
 * queue messages are delivered more than once, timers overlap, and storage (Azurite) is stopped and started
 * again during intake and during work. Every request that was accepted must end final with exactly one chat.
 *
 * The queue lease the host takes is 10 minutes (as in Azure), and a `creating` attempt is only taken over
 * after ATTEMPT_LEASE_MS (2 minutes). The default variant stands in for the lease running out by sending the
 * same message again (what the queue itself does when a lease expires); the long variant waits for the real
 * leases and the timer's own recovery instead.
 */

const report = new ChaosReport('process-faults');

interface Tracked {
  id: string;
  topic: string;
  scenario: string;
}

let stack: ChaosStack;
const tracked: Tracked[] = [];
let member = 200_000;
let callbackServer: Server;
const callbacks: { webhookId: string; requestId: string }[] = [];

beforeAll(async () => {
  stack = await startChaosStack({ host: 'child', persistent: true });
  callbackServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        const event = JSON.parse(body) as { data?: { id?: string } };
        callbacks.push({ webhookId: String(req.headers['webhook-id']), requestId: String(event.data?.id) });
      } catch {
        // not ours
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => callbackServer.listen(0, '127.0.0.1', done));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((done) => callbackServer?.close(done));
  report.print();
});

function groupBody(topic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const first = member;
  member += 3;
  return {
    chatType: 'group',
    topic,
    members: [`user${first}@contoso.com`, `user${first + 1}@contoso.com`, `user${first + 2}@contoso.com`],
    ...extra,
  };
}

async function submit(scenario: string, topic: string, extra: Record<string, unknown> = {}): Promise<Tracked> {
  const answer = await stack.api('/api/requests', { method: 'POST', json: groupBody(topic, extra) });
  expect(answer.status).toBe(202);
  const entry = { id: ((await answer.json()) as { id: string }).id, topic, scenario };
  tracked.push(entry);
  return entry;
}

interface Row {
  id: string;
  state: string;
  attempts: number;
  chat?: { id: string };
  error?: { code: string; message: string };
}

/** The request row read straight from Azurite (works while the host is dead): its newest stored copy. */
async function readRow(id: string): Promise<Row | undefined> {
  return (await new StoredRows(stack.storage.direct.connectionString).read(id))?.request as Row | undefined;
}

const isFinal = (row: Row | undefined): boolean => row?.state === 'succeeded' || row?.state === 'failed';

function chatsOf(topic: string): string[] {
  return stack.sim.control
    .chats()
    .chats.filter((c) => c.topic === topic)
    .map((c) => c.id);
}

/** What a lease running out does: the message (same id, current attempt) is delivered again. */
async function expireLeases(entries: Tracked[]): Promise<number> {
  let sent = 0;
  const queue = stack.queue();
  for (const entry of entries) {
    const row = await readRow(entry.id);
    if (!row || isFinal(row)) continue;
    await queue.sendMessage(Buffer.from(JSON.stringify({ id: entry.id, attempt: row.attempts })).toString('base64'));
    sent += 1;
  }
  return sent;
}

interface KillStep {
  name: string;
  /** The row state the kill leaves behind. */
  leaves: string;
  /**
   * Sets the trap; resolves when the host is exactly at the step. A held storage write is dropped at the
   * kill, never forwarded: the process died before it, so it must not land.
   */
  arm(topic: string): { reached: Promise<unknown>; cleanup(): void };
}

const chatMade = (topic: string) => (): boolean => chatsOf(topic).length > 0;

/** An insert into the requests table (the history), the n-th one seen after the chat was made. */
function nthHistoryInsertAfter(made: () => boolean, n: number): (call: StorageCall) => boolean {
  let seen = 0;
  return (call) =>
    call.service === 'table' &&
    call.method === 'POST' &&
    /\/ChatRequests(\?.*)?$/.test(call.path) &&
    made() &&
    ++seen === n;
}

const KILL_STEPS: KillStep[] = [
  {
    name: 'message received, before the queued→creating write',
    leaves: 'queued',
    arm: () => {
      const hold = stack.storage.hold((call) => tableWrite(call, 'PUT', 'active'));
      return { reached: hold.reached, cleanup: hold.drop };
    },
  },
  {
    name: 'Graph call in flight, before Graph acted',
    leaves: 'creating',
    arm: (topic) => {
      stack.sim.control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        fault: { type: 'delay', ms: 4_000 },
      });
      const reached = waitFor('the POST to reach Graph', () =>
        stack.sim.control
          .requests()
          .some((r) => r.method === 'POST' && (r.body as { topic?: string } | null)?.topic === topic)
          ? true
          : undefined,
      );
      return { reached, cleanup: () => stack.sim.control.clearFaults() };
    },
  },
  {
    name: 'Graph made the chat, its answer not back yet',
    leaves: 'creating',
    arm: (topic) => {
      stack.sim.control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        phase: 'after',
        fault: { type: 'delay', ms: 20_000 },
      });
      return {
        reached: waitFor('the chat', () => (chatMade(topic)() ? true : undefined), 30_000, 20),
        cleanup: () => stack.sim.control.clearFaults(),
      };
    },
  },
  {
    name: 'Graph answered 201, its chat owner written, the deciding write not',
    leaves: 'creating',
    arm: (topic) => {
      const made = chatMade(topic);
      const hold = stack.storage.hold((call) => tableWrite(call, 'PUT', 'active') && made());
      return { reached: hold.reached, cleanup: hold.drop };
    },
  },
  {
    name: 'the deciding write made (succeeded, in flight partition), the history copy not',
    leaves: 'succeeded',
    arm: (topic) => {
      // The first insert into the history after the chat is its owner row; the second, the final copy.
      const hold = stack.storage.hold(nthHistoryInsertAfter(chatMade(topic), 2));
      return { reached: hold.reached, cleanup: hold.drop };
    },
  },
  {
    name: 'the history copy written, the in-flight copy not deleted',
    leaves: 'succeeded',
    arm: (topic) => {
      const made = chatMade(topic);
      const hold = stack.storage.hold((call) => tableWrite(call, 'DELETE', 'active') && made());
      return { reached: hold.reached, cleanup: hold.drop };
    },
  },
  {
    name: 'everything written, the queue message not deleted',
    leaves: 'succeeded',
    arm: (topic) => {
      const made = chatMade(topic);
      const hold = stack.storage.hold(
        (call: StorageCall) =>
          call.service === 'queue' &&
          call.method === 'DELETE' &&
          call.path.includes('/chat-requests/messages/') &&
          made(),
      );
      return { reached: hold.reached, cleanup: hold.release };
    },
  },
];

describe('process faults', () => {
  it('kill -9 at each step around the worker’s table writes leaves a row the service can finish', async () => {
    const child = stack.child!;
    const left: Record<string, string> = {};
    for (const [n, step] of KILL_STEPS.entries()) {
      // Prepare
      const topic = `chaos kill ${n}`;
      const trap = step.arm(topic);
      const entry = await submit('kill', topic);

      // Act
      await trap.reached;
      const pid = child.pid;
      await child.kill();
      trap.cleanup();
      const row = await readRow(entry.id);
      left[step.name] = row?.state ?? 'missing';
      await child.start();

      // Assess: the step left exactly what it says, and the new process is another one.
      expect({ step: step.name, state: row?.state }).toEqual({ step: step.name, state: step.leaves });
      expect(child.pid).not.toBe(pid);
    }
    report.set('kill', { steps: KILL_STEPS.length, kills: KILL_STEPS.length, stateLeftByStep: left });
  }, 240_000);

  it('storage stopped and started again while requests are being worked on', async () => {
    // Prepare: 30 requests in flight.
    const entries = await Promise.all(
      Array.from({ length: 30 }, (_, i) => submit('storageDuringWork', `chaos work ${i}`)),
    );
    await waitFor(
      'some work to start',
      async () => ((await readRow(entries[5]!.id))?.state !== 'queued' ? true : undefined),
      20_000,
      50,
    );

    // Act: Azurite is stopped for 10 s.
    const states: Record<string, number> = {};
    await stack.storage.stopAzurite();
    await sleep(10_000);
    await stack.storage.startAzurite();
    for (const entry of entries) {
      const state = (await readRow(entry.id))?.state ?? 'missing';
      states[state] = (states[state] ?? 0) + 1;
    }

    // Assess: the data survived the restart, and the host process did too.
    report.set('storageDuringWork', { requests: entries.length, outageSeconds: 10, statesAfterRestart: states });
    expect(states.missing).toBeUndefined();
    expect(stack.child!.running).toBe(true);
  }, 120_000);

  it('storage down during intake: 503 problem+json with Retry-After, nothing half-written, all complete after', async () => {
    // Prepare
    const bodies = Array.from({ length: 5 }, (_, i) =>
      groupBody(`chaos intake down ${i}`, { externalId: `intake-down-${i}` }),
    );

    // Act: Azurite is down; every POST is refused.
    await stack.storage.stopAzurite();
    const down = await Promise.all(
      bodies.map(async (json) => {
        const started = Date.now();
        const answer = await stack.api('/api/requests', { method: 'POST', json });
        return {
          status: answer.status,
          type: answer.headers.get('content-type'),
          retryAfter: answer.headers.get('retry-after'),
          body: (await answer.json()) as { status?: number; title?: string },
          ms: Date.now() - started,
        };
      }),
    );
    const batch = await stack.api('/api/requests/batch', {
      method: 'POST',
      json: { requests: [groupBody('chaos intake down batch')] },
    });
    const batchBody = (await batch.json()) as { accepted?: number; status?: number };
    const status = await stack.api('/api/requests?top=1');
    const health = await stack.api('/api/health', { key: null });
    await stack.storage.startAzurite();

    // …and resubmitted with the same keys once it is back.
    const again = await Promise.all(
      bodies.map(async (json, i) => {
        const answer = await stack.api('/api/requests', { method: 'POST', json });
        const id = ((await answer.json()) as { id: string }).id;
        tracked.push({ id, topic: `chaos intake down ${i}`, scenario: 'intakeDown' });
        return answer.status;
      }),
    );

    // Assess
    report.set('storageDuringIntake', {
      posts: down.length,
      statuses: down.map((d) => d.status),
      maxAnswerMs: Math.max(...down.map((d) => d.ms)),
      batchStatus: batch.status,
      statusRouteStatus: status.status,
      healthStatus: health.status,
      resubmitted: again,
    });
    for (const answer of down) {
      expect(answer).toMatchObject({ status: 503, type: 'application/problem+json', body: { status: 503 } });
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    // A batch either is refused whole (503) or accepts nothing; never 500.
    expect(batch.status === 503 || (batch.status === 200 && batchBody.accepted === 0)).toBe(true);
    expect(status.status).toBe(503);
    expect(health.status).toBe(503);
    // Nothing was recorded while storage was down: the same keys now create (202), not replay.
    expect(again).toEqual([202, 202, 202, 202, 202]);
  }, 120_000);

  it('storage lost in the middle of intake (key claimed, row not written): the retry with the same key finishes it', async () => {
    // Prepare: the request row's insert (intake: key, message, then the row, into the work table) is held.
    const hold = stack.storage.hold(
      (call) =>
        call.service === 'table' && call.method === 'POST' && /\/ChatRequestsWork$/.test(call.path.split('?')[0]!),
    );
    const body = groupBody('chaos intake half', { externalId: 'intake-half' });

    // Act: storage goes away while the row insert is held.
    const first = stack.api('/api/requests', { method: 'POST', json: body });
    await hold.reached;
    await stack.storage.stopAzurite();
    hold.drop();
    const refused = await first;
    await stack.storage.startAzurite();
    const retried = await stack.api('/api/requests', { method: 'POST', json: body });
    const resource = (await retried.json()) as { id: string };
    tracked.push({ id: resource.id, topic: 'chaos intake half', scenario: 'intakeHalf' });
    const byExternalId = (await (await stack.api('/api/requests?externalId=intake-half')).json()) as {
      value: { id: string }[];
    };

    // Assess
    report.set('storageLostMidIntake', { firstStatus: refused.status, retryStatus: retried.status });
    expect(refused.status).toBe(503);
    expect(retried.status).toBe(202);
    expect(byExternalId.value.map((v) => v.id)).toEqual([resource.id]);
  }, 120_000);

  it('the queue lost when intake sends (before the row): accepted, and the timer sends the message', async () => {
    const hold = stack.storage.hold(
      (call) => call.service === 'queue' && call.method === 'POST' && /\/chat-requests\/messages/.test(call.path),
    );
    const pending = stack.api('/api/requests', { method: 'POST', json: groupBody('chaos queue lost') });
    await hold.reached;
    hold.drop();
    const answer = await pending;
    const body = (await answer.json()) as { id?: string; status?: number };
    if (body.id) tracked.push({ id: body.id, topic: 'chaos queue lost', scenario: 'queueLost' });
    report.set('queueLostAfterRow', { status: answer.status });
    // Recorded but not enqueued is still accepted: the unsent marker, written before the row, makes the timer
    // send it (checked below).
    expect(answer.status).toBe(202);
  }, 60_000);

  it('duplicate queue deliveries: extra copies of every message make no second chat', async () => {
    // Prepare
    const queue = stack.queue();
    const entries = await Promise.all(Array.from({ length: 15 }, (_, i) => submit('duplicates', `chaos dup ${i}`)));
    const copy = (id: string, attempt: number): Promise<unknown> =>
      queue.sendMessage(Buffer.from(JSON.stringify({ id, attempt })).toString('base64'));

    // Act: three copies of each first message at once, then copies of later and never-sent attempts.
    await Promise.all(entries.flatMap((e) => [copy(e.id, 0), copy(e.id, 0), copy(e.id, 0)]));
    await sleep(2_000);
    await Promise.all(entries.flatMap((e) => [copy(e.id, 1), copy(e.id, 2), copy(e.id, 99)]));
    const done = await waitFor(
      'the duplicated requests',
      async () => {
        const rows = await Promise.all(entries.map((e) => readRow(e.id)));
        return rows.every(isFinal) ? rows : undefined;
      },
      90_000,
      500,
    );

    // Assess
    const chats = entries.map((e) => chatsOf(e.topic).length);
    report.set('duplicateDeliveries', {
      requests: entries.length,
      extraCopies: entries.length * 6,
      succeeded: done.filter((r) => r?.state === 'succeeded').length,
      duplicates: chats.filter((n) => n > 1).length,
    });
    expect(done.map((r) => r?.state)).toEqual(entries.map(() => 'succeeded'));
    expect(chats).toEqual(entries.map(() => 1));
  }, 120_000);

  it('two timers at once (two instances ticking together, plus the host’s own) settle each operation once', async () => {
    // Prepare: requests with an app (202 → operation) and a callback, and two more "instances" of the app.
    const env = stack.env;
    const instances: Services[] = [buildServices(loadConfig(env)), buildServices(loadConfig(env))];
    const lines: string[] = [];
    const log = jsonLogger((_level, line) => lines.push(line));
    const callbackUrl = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/hook`;
    const entries = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        submit('timers', `chaos timers ${i}`, { apps: [{ teamsAppId: APP_ID }], callbackUrl }),
      ),
    );

    // Act: both instances run the timer's work back to back, concurrently, until every request is final.
    let ticks = 0;
    const tick = async (svc: Services): Promise<void> => {
      await runTimerWork(svc, log);
      ticks += 1;
    };
    const deadline = Date.now() + 90_000;
    for (;;) {
      await Promise.all([tick(instances[0]!), tick(instances[1]!), tick(instances[0]!)]);
      const rows = await Promise.all(entries.map((e) => readRow(e.id)));
      if (rows.every(isFinal) || Date.now() > deadline) break;
      await sleep(300);
    }
    await sleep(3_000);

    // Assess: one chat each; each request settled by exactly one writer (counting the host's own timer too).
    const rows = await Promise.all(entries.map((e) => readRow(e.id)));
    const settledBy = (id: string): number =>
      [...lines, ...stack.logs].filter((l) => l.includes('request.succeeded') && l.includes(id)).length;
    const deliveries = entries.map((e) => callbacks.filter((c) => c.requestId === e.id).length);
    report.set('twoTimers', {
      requests: entries.length,
      ticks,
      succeeded: rows.filter((r) => r?.state === 'succeeded').length,
      settledTwice: entries.filter((e) => settledBy(e.id) > 1).length,
      callbacksDelivered: deliveries.reduce((a, b) => a + b, 0),
      callbackDuplicates: deliveries.filter((n) => n > 1).length,
    });
    expect(rows.map((r) => r?.state)).toEqual(entries.map(() => 'succeeded'));
    expect(entries.map((e) => chatsOf(e.topic).length)).toEqual(entries.map(() => 1));
    expect(entries.map((e) => settledBy(e.id))).toEqual(entries.map(() => 1));
    // At least once (receivers dedupe by webhook-id); each request's event has one webhook-id.
    expect(deliveries.every((n) => n >= 1)).toBe(true);
    for (const e of entries)
      expect(new Set(callbacks.filter((c) => c.requestId === e.id).map((c) => c.webhookId)).size).toBe(1);
  }, 150_000);

  it(
    'after the kills and outages every accepted request ends final with exactly one chat; the poison queue holds nothing in progress',
    async () => {
      // Act: the default variant stands in for the 10-minute queue lease by redelivering what it holds; the
      // long variant waits for the real lease and the timer's recovery of stale attempts.
      let redelivered = 0;
      const started = Date.now();
      const rows = await waitFor(
        'every request to finish',
        async () => {
          const current = await Promise.all(tracked.map((t) => readRow(t.id)));
          if (current.every(isFinal)) return current;
          if (!LONG && Date.now() - started > 5_000 && redelivered === 0) {
            redelivered = await expireLeases(tracked);
          }
          return undefined;
        },
        LONG ? 16 * 60_000 : 4 * 60_000,
        2_000,
      );

      // Assess
      const chats = tracked.map((t) => chatsOf(t.topic).length);
      const poison = await stack.queue('chat-requests-poison').peekMessages({ numberOfMessages: 32 });
      const poisonInProgress: string[] = [];
      for (const message of poison.peekedMessageItems) {
        let id = '';
        try {
          id = (JSON.parse(Buffer.from(message.messageText, 'base64').toString('utf8')) as { id: string }).id;
        } catch {
          continue;
        }
        if (!isFinal(await readRow(id))) poisonInProgress.push(id);
      }
      const byScenario: Record<string, { requests: number; succeeded: number; duplicates: number; lost: number }> = {};
      tracked.forEach((t, i) => {
        const s = (byScenario[t.scenario] ??= { requests: 0, succeeded: 0, duplicates: 0, lost: 0 });
        s.requests += 1;
        if (rows[i]?.state === 'succeeded') s.succeeded += 1;
        if (!isFinal(rows[i])) s.lost += 1;
        if ((chats[i] ?? 0) > 1) s.duplicates += 1;
      });
      report.set('recovery', {
        requests: tracked.length,
        lost: rows.filter((r) => !isFinal(r)).length,
        duplicates: chats.filter((n) => n > 1).length,
        failedButCreated: tracked.filter((_, i) => rows[i]?.state === 'failed' && (chats[i] ?? 0) > 0).length,
        redeliveredForLeases: redelivered,
        secondsToRecover: Math.round((Date.now() - started) / 1000),
        poisonMessages: poison.peekedMessageItems.length,
        poisonInProgress: poisonInProgress.length,
        hostRestarts: KILL_STEPS.length,
        azuriteRestarts: stack.storage.restarts,
        byScenario,
      });
      expect(rows.map((r, i) => `${tracked[i]!.scenario} ${tracked[i]!.topic}: ${r?.state}`)).toEqual(
        tracked.map((t) => `${t.scenario} ${t.topic}: succeeded`),
      );
      expect(chats).toEqual(tracked.map(() => 1));
      expect(poisonInProgress).toEqual([]);
      expect(stack.child!.running).toBe(true);
    },
    LONG ? 20 * 60_000 : 6 * 60_000,
  );
});
