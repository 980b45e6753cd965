import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allExamples, type DocExample } from '../support/doc-examples';
import { azuriteGone, type Banner, buildLocalRun, callHost, callSimulator, LocalRun } from '../support/local-run';

/**
 * `npm start` itself, as a newcomer runs it: a separate process (`node dist/dev/start.js`) with its own data folder
 * and free ports. What it refuses (an invalid configuration, a taken port), what its banner says, that every
 * example of the docs finishes on it, and that `kill -9` of it loses no acknowledged request and makes no chat twice.
 */

const FINAL = new Set(['succeeded', 'failed']);

const dataDirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-run-data-'));
  dataDirs.push(dir);
  return dir;
}

/** Every run a test started: stopped at the end even when the test failed half-way. */
const runs: LocalRun[] = [];
function localRun(data: string, env?: Record<string, string>): LocalRun {
  const run = new LocalRun(data, env);
  runs.push(run);
  return run;
}

afterAll(async () => {
  for (const run of runs) await run.stop();
  for (const dir of dataDirs) {
    await azuriteGone(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

type Resource = Record<string, unknown> & { id: string; state: string };

/** Polls a request until `done` says so (no time limit of its own: the test's timeout is the limit). */
async function until(banner: Banner, id: string, done: (r: Resource) => boolean): Promise<Resource> {
  for (;;) {
    const { status, body } = await callHost(banner, 'GET', `/api/requests/${id}`);
    // An acknowledged request that is gone was lost: no waiting will bring it back.
    if (status === 404) throw new Error(`request ${id} was acknowledged and is gone: ${JSON.stringify(body)}`);
    if (status === 200 && done(body as Resource)) return body as Resource;
    await sleep(250);
  }
}

describe('npm start refuses to start, saying why', () => {
  test('an invalid configuration: every problem is printed and nothing is started', async () => {
    const data = dataDir();
    const run = localRun(data, { GRAPH_MAX_RPS: 'lots', CHAT_REQUESTS_TABLE: '1-not-a-table' });
    const result = await run.start();
    if (!('exit' in result)) throw new Error(`it started:\n${run.output}`);
    expect(result.exit.code).toBe(1);
    expect(result.exit.output).toMatch(/GRAPH_MAX_RPS: .*number/);
    expect(result.exit.output).toMatch(/CHAT_REQUESTS_TABLE: /);
    expect(result.exit.output).toContain('local.settings.json');
    // Checked before anything started: no Azurite, no simulator, no data.
    expect(existsSync(join(data, 'azurite'))).toBe(false);
    expect(existsSync(join(data, 'simulator'))).toBe(false);
  });

  test('the local host alone (dev/host/main.js) refuses an invalid configuration too, naming every problem', async () => {
    const root = buildLocalRun();
    const child = spawn(process.execPath, [join(root, 'dist/dev/host/main.js'), '--app-root', root, '--port', '0'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', GRAPH_MAX_RPS: 'lots', CHAT_REQUESTS_TABLE: '1-not-a-table' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
    expect(code).toBe(1);
    expect(output).toContain('The local host did not start');
    expect(output).toMatch(/GRAPH_MAX_RPS: .*number/);
    expect(output).toMatch(/CHAT_REQUESTS_TABLE: /);
    expect(output).not.toContain('"phase":"started"');
  });

  test('a port in use: named with the setting that picks another, and nothing is started', async () => {
    const blocker = net.createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const data = dataDir();
      const run = localRun(data, { LOCAL_HOST_PORT: String(port), SIMULATOR_PORT: String(port) });
      const result = await run.start();
      if (!('exit' in result)) throw new Error(`it started:\n${run.output}`);
      expect(result.exit.code).toBe(1);
      expect(result.exit.output).toContain(`port ${port} (the local host) is in use`);
      expect(result.exit.output).toContain('LOCAL_HOST_PORT=');
      expect(result.exit.output).toContain('Host.LocalHttpPort');
      expect(result.exit.output).toContain(`port ${port} (the Graph simulator`);
      expect(result.exit.output).toContain('SIMULATOR_PORT=');
      expect(existsSync(join(data, 'azurite'))).toBe(false);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});

describe('a local run', () => {
  let run: LocalRun;
  let banner: Banner;

  beforeAll(async () => {
    run = localRun(dataDir());
    const result = await run.start();
    if (!('banner' in result)) throw new Error(`npm start did not start:\n${result.exit.output}`);
    banner = result.banner;
  });

  afterAll(async () => {
    const exit = await run?.stop();
    if (exit && exit.code !== 0) console.error(exit.output);
  });

  test('the banner gives the CLI its settings, the simulator control API and its real CA file', async () => {
    expect(run.output).toMatch(/export CHAT_PROVISIONER_URL=http:\/\/localhost:\d+ CHAT_PROVISIONER_KEY=\S+/);
    expect(existsSync(banner.caPath)).toBe(true);
    expect(readFileSync(banner.caPath, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(run.output).toContain(`${banner.simulatorUrl}/_sim/users`);
    expect(run.output).toContain(`${banner.simulatorUrl}/_sim/apps`);
    // The key works, and the control API answers with the CA file the banner names.
    expect((await callHost(banner, 'GET', '/api/requests?top=1')).status).toBe(200);
    const { users } = (await callSimulator(banner, 'GET', '/_sim/users')) as { users: { userPrincipalName: string }[] };
    expect(users.map((u) => u.userPrincipalName)).toEqual(expect.arrayContaining(['ana.souza@contoso.com']));
  });

  test("the banner's way to make a request fail works: a Teams app the catalog does not hold", async () => {
    const app = /"apps":\[\{"teamsAppId":"([0-9a-f-]{36})"\}\]/.exec(run.output)?.[1];
    expect(app).toBeDefined();
    const answer = await callHost(banner, 'POST', '/api/requests', {
      chatType: 'group',
      topic: 'Fails on purpose',
      members: ['ana.souza@contoso.com', 'li.wei@contoso.com'],
      apps: [{ teamsAppId: app }],
    });
    expect(answer.status).toBe(202);
    const resource = await until(banner, String(answer.body.id), (r) => FINAL.has(r.state));
    expect(resource.state).toBe('failed');
  });

  /** Every example, one after the other; those with apps go through a Graph operation the 5 s timer polls. */
  const everyExampleMs = 5 * 60_000;

  test(
    'every example of README.md, docs/ and examples/ finishes',
    async () => {
      const examples = allExamples();
      // The extraction must find the examples it is meant to (a format change would otherwise pass silently).
      const sources = new Set(examples.map((e) => e.source.split(' ')[0]));
      expect([...sources]).toEqual(
        expect.arrayContaining([
          'README.md',
          'docs/api.md',
          'docs/cli.md',
          'docs/deploy.md',
          'examples/new-hires.csv',
          'examples/new-hires.jsonl',
        ]),
      );
      const now = Date.now();
      const submitted: { example: DocExample; id: string; waitsFor?: string }[] = [];
      for (const [index, example] of examples.entries()) {
        const body = { ...example.body };
        // The same externalId appears in several files with different bodies (each a separate example).
        if (typeof body.externalId === 'string') body.externalId = `${body.externalId}-example-${index}`;
        const answer = await callHost(banner, 'POST', '/api/requests', body);
        if (answer.status !== 202)
          throw new Error(`${example.source}: ${answer.status} ${JSON.stringify(answer.body)}`);
        const notBefore =
          typeof body.notBefore === 'string' && Date.parse(body.notBefore) > now ? body.notBefore : undefined;
        submitted.push({ example, id: String(answer.body.id), waitsFor: notBefore });
      }
      const outcomes: string[] = [];
      for (const { example, id, waitsFor } of submitted) {
        if (waitsFor) {
          // Documented: a request waits for its notBefore; these examples' dates are in the future.
          const resource = await until(banner, id, (r) => r.state === 'queued');
          outcomes.push(`${example.source}: ${resource.state} until ${String(resource.notBefore)}`);
          continue;
        }
        const resource = await until(banner, id, (r) => FINAL.has(r.state));
        outcomes.push(
          `${example.source}: ${resource.state}${resource.error ? ` ${JSON.stringify(resource.error)}` : ''}`,
        );
      }
      const unexpected = outcomes.filter((o) => !/: succeeded$|: queued until /.test(o));
      expect(unexpected).toEqual([]);
    },
    everyExampleMs,
  );
});

describe('kill -9 of npm start', () => {
  /**
   * A request the killed worker was creating stays `creating` until its attempt lease (ATTEMPT_LEASE_MS, 2 minutes)
   * has run out, since nobody can know whether the dead worker's POST reached Graph; only then is it taken over.
   * That wait is the service's exactly-once rule, not slowness, so this test is allowed past it.
   */
  const attemptLeaseAndMargin = 6 * 60_000;

  test(
    'mid-batch: after a restart every acknowledged request is final and no chat was made twice',
    async () => {
      const data = dataDir();
      // A short queue lease, so what the killed worker held comes back in seconds (the default is 30 s).
      const env = { LOCAL_QUEUE_LEASE_SECONDS: '3' };
      const first = localRun(data, env);
      const started = await first.start();
      if (!('banner' in started)) throw new Error(`npm start did not start:\n${started.exit.output}`);
      const before = started.banner;

      // Requests with an app go through a Graph operation; stalled, they are `pending` when the run dies.
      await callSimulator(before, 'POST', '/_sim/config', { defaultOperationFate: 'stall' });
      const topicOf = new Map<string, string>();
      const submit = async (topic: string, withApp: boolean): Promise<void> => {
        const body = {
          chatType: 'group',
          topic,
          externalId: topic,
          members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
          ...(withApp ? { apps: [{ teamsAppId: '05f59cec-a742-4a50-a62e-202a57e478a4' }] } : {}),
        };
        try {
          const answer = await callHost(before, 'POST', '/api/requests', body);
          if (answer.status === 202) topicOf.set(String(answer.body.id), topic);
        } catch {
          // Not acknowledged (the run died before answering): the caller would resubmit; nothing is owed.
        }
      };
      await Promise.all([0, 1, 2].map((i) => submit(`pending-${i}`, true)));
      const pendingIds = [...topicOf.keys()];
      for (const id of pendingIds) await until(before, id, (r) => r.state === 'pending');

      // The batch: 10 at a time; the run is killed once 40 are acknowledged, while calls are in flight.
      let next = 0;
      const total = 150;
      const worker = async (): Promise<void> => {
        while (next < total) {
          const i = next++;
          await submit(`batch-${i}`, false);
        }
      };
      const workers = Array.from({ length: 10 }, () => worker());
      while (topicOf.size < pendingIds.length + 40) await sleep(20);
      await first.kill();
      await Promise.all(workers);
      expect(topicOf.size).toBeGreaterThanOrEqual(pendingIds.length + 40);

      const second = localRun(data, env);
      const restarted = await second.start();
      if (!('banner' in restarted)) throw new Error(`npm start did not restart:\n${restarted.exit.output}`);
      const after = restarted.banner;
      try {
        // The simulator came back on its port, with the operations it had.
        expect(after.simulatorUrl).toBe(before.simulatorUrl);
        const { operations } = (await callSimulator(after, 'GET', '/_sim/operations')) as {
          operations: { id: string; lastStatus: string }[];
        };
        expect(operations.length).toBeGreaterThanOrEqual(pendingIds.length);
        for (const operation of operations) {
          await callSimulator(after, 'POST', `/_sim/operations/${encodeURIComponent(operation.id)}`, {
            fate: 'succeed',
          });
        }

        for (const id of topicOf.keys()) {
          const resource = await until(after, id, (r) => FINAL.has(r.state));
          expect({ id, state: resource.state, error: resource.error }).toEqual({
            id,
            state: 'succeeded',
            error: undefined,
          });
        }
        const { chats } = (await callSimulator(after, 'GET', '/_sim/chats')) as { chats: { topic: string | null }[] };
        const perTopic = new Map<string, number>();
        for (const chat of chats) perTopic.set(String(chat.topic), (perTopic.get(String(chat.topic)) ?? 0) + 1);
        const twice = [...perTopic].filter(([, count]) => count > 1);
        expect(twice).toEqual([]);
        for (const topic of topicOf.values()) expect(perTopic.get(topic)).toBe(1);
      } finally {
        await second.stop();
      }
    },
    attemptLeaseAndMargin,
  );
});
