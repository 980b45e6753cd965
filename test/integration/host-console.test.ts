import { resolve } from 'node:path';
import { startLocalHost, LocalHost } from '../../dev/host';
import { consoleLogger } from '../../dev/host/console';
import { eventually, FUNCTION_KEY, startStack, Stack } from '../support/stack';

/**
 * The local console a person reads (`npm start`): quiet when idle, one plain line per request state change
 * and per problem. Real host, real functions, Azurite and the simulator; the timer is driven tick by tick.
 */
const ROOT = resolve(__dirname, '../..');

describe('the local console', () => {
  let stack: Stack;
  let host: LocalHost;
  const info: string[] = [];
  const debug: string[] = [];
  beforeAll(async () => {
    // The schedule never fires by itself (Feb 30th): the test drives the ticks.
    stack = await startStack({ host: false, env: { POLL_SCHEDULE: '0 0 0 30 2 *' } });
    const atInfo = consoleLogger({ level: 'info', write: (text) => info.push(text) });
    const atDebug = consoleLogger({ level: 'debug', write: (text) => debug.push(text) });
    host = await startLocalHost({
      appRoot: ROOT,
      entryPoints: ['functions/*.ts'],
      port: 0,
      // LOG_LEVEL=debug: the app writes its debug events too, so the info console has to leave them out itself.
      env: { ...stack.env, LOG_LEVEL: 'debug' },
      functionKeys: [FUNCTION_KEY],
      logger: (line) => {
        atInfo(line);
        atDebug(line);
      },
    });
  });
  afterAll(async () => {
    await host?.stop();
    await stack?.stop();
  });

  it('prints nothing at the default level during an idle minute (12 timer ticks, the queues polled empty)', async () => {
    const started = info.length;
    const debugBefore = debug.length;
    for (let tick = 0; tick < 12; tick += 1) await host.invokeTimer('poller');

    expect(info.slice(started)).toEqual([]);
    // The ticks did run and log: at debug they show, one invocation start and end and one poller.tick each.
    const ticks = debug.slice(debugBefore).filter((line) => / poller\.tick /.test(line));
    expect(ticks).toHaveLength(12);
    expect(
      debug.slice(debugBefore).filter((line) => /invocation end succeeded/.test(line)).length,
    ).toBeGreaterThanOrEqual(12);
    // The work queue does not exist before the first request: said at debug, not to a person at start.
    expect(info.join('')).not.toContain('queue-not-found');
    expect(debug.join('')).toContain('queue-not-found');
  });

  it('prints one plain line per state change of a request, with no JSON inside', async () => {
    const before = info.length;
    const posted = await fetch(`${host.url}/api/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY },
      body: JSON.stringify({
        chatType: 'group',
        topic: 'Console',
        members: ['user1@contoso.com', 'user2@contoso.com'],
      }),
    });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };
    await eventually(async () =>
      info.some((line) => line.includes('request.succeeded') && line.includes(id)) ? true : undefined,
    );

    const lines = info.slice(before).filter((line) => line.includes(id));
    expect(lines.map((line) => /(request\.\w+)/.exec(line)?.[1])).toEqual(['request.accepted', 'request.succeeded']);
    for (const line of info.slice(before)) {
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR) \S+\s+\S/);
      expect(line).not.toContain('{"');
    }
    expect(lines[1]).toMatch(new RegExp(`INFO  worker\\s+request\\.succeeded requestId=${id} attempt=1`));
  });
});
