import { QueueClient } from '@azure/storage-queue';
import { State } from '../../shared/core/model';
import { OpsSummarySchema, type OpsSummary } from '../../shared/http/ops-schemas';
import { services } from '../../shared/platform/composition-root';
import { eventually, startStack, Stack } from '../support/stack';

/**
 * GET /api/ops/summary and the ops page's files over HTTP on the local host (no browser needed):
 * counts per state, the poison depth, the limiter after a Graph 429, the function key, and the page's
 * headers (CSP) and assets.
 */

interface Resource {
  id: string;
  state: string;
}

const group = (n: number, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: `Summary ${n}`,
  externalId: `summary-${n}`,
  members: [`user${n}@contoso.com`, `user${n + 500}@contoso.com`, `user${n + 900}@contoso.com`],
  ...extra,
});

describe('ops summary and page files', () => {
  let stack: Stack;

  const summary = async (): Promise<OpsSummary> => {
    const answer = await stack.api('/api/ops/summary');
    if (answer.status !== 200) throw new Error(`summary: ${answer.status} ${await answer.text()}`);
    return OpsSummarySchema.parse(await answer.json());
  };

  beforeAll(async () => {
    // The poison function is off so that a message put in the poison queue stays there to be counted.
    stack = await startStack({ env: { NEW_USER_GRACE_MINUTES: '0.001', 'AzureWebJobs.poison.Disabled': 'true' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('needs the function key', async () => {
    expect((await stack.api('/api/ops/summary', { key: null })).status).toBe(401);
    expect((await stack.api('/api/ops/summary', { key: 'wrong' })).status).toBe(401);
  });

  it('starts empty, with the limiter at GRAPH_MAX_RPS', async () => {
    const s = await summary();
    for (const state of ['queued', 'creating', 'pending', 'succeeded', 'failed'] as const) {
      expect(s.states[state]).toEqual({ count: 0, capped: false });
    }
    expect(s.queue).toEqual({ name: 'chat-requests', approximateDepth: 0, poisonDepth: 0 });
    expect(s.limiter).toMatchObject({ rate: 20, maxRate: 20, shared: false });
  });

  it('counts requests per state, the poison depth, and a 429 in the limiter', async () => {
    // One 429 on the first POST /chats: the worker cuts the shared rate and pauses, then succeeds.
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      fault: { type: 'status', status: 429, retryAfter: 1 },
    });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const answer = await stack.api('/api/requests', { method: 'POST', json: group(n) });
      ids.push(((await answer.json()) as Resource).id);
    }
    const failing = await stack.api('/api/requests', {
      method: 'POST',
      json: group(4, { members: ['unlicensed4@contoso.com', 'user504@contoso.com'] }),
    });
    ids.push(((await failing.json()) as Resource).id);
    const later = new Date(Date.now() + 86_400_000).toISOString();
    await stack.api('/api/requests', { method: 'POST', json: group(5, { notBefore: later }) });
    await eventually(async () => {
      const states = await Promise.all(
        ids.map(async (id) => ((await (await stack.api(`/api/requests/${id}`)).json()) as Resource).state),
      );
      return states.every((s) => s === 'succeeded' || s === 'failed') ? states : undefined;
    });
    const poison = new QueueClient(stack.env.AzureWebJobsStorage!, 'chat-requests-poison');
    await poison.createIfNotExists();
    await poison.sendMessage(Buffer.from(JSON.stringify({ id: ids[0], attempt: 1 })).toString('base64'));

    const s = await summary();
    expect(s.states.succeeded).toEqual({ count: 3, capped: false });
    expect(s.states.failed).toEqual({ count: 1, capped: false });
    expect(s.states.queued).toEqual({ count: 1, capped: false });
    expect(s.states.pending.count + s.states.creating.count).toBe(0);
    expect(s.queue.poisonDepth).toBe(1);
    expect(s.limiter.shared).toBe(true);
    expect(s.limiter.rate).toBeLessThan(20);
    expect(Date.parse(s.limiter.lastThrottledAt!)).toBeGreaterThan(Date.parse(s.checkedAt) - 3_600_000);

    // Beyond the limit the count stops and says so (the route's limit is 10,000; the store takes any).
    const store = services().store;
    expect(await store.countState(State.succeeded, 2)).toEqual({ count: 2, capped: true });
    expect(await store.countState(State.succeeded, 3)).toEqual({ count: 3, capped: true });
    expect(await store.countState(State.succeeded, 4)).toEqual({ count: 3, capped: false });
  });

  it('serves the page anonymously with a strict Content-Security-Policy, and its two files', async () => {
    for (const path of ['/api/ui', '/api/ui/']) {
      const page = await stack.api(path, { key: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      // Even if the script never ran, the key form could not be submitted (the key would land in a URL).
      expect(csp).toContain("form-action 'none'");
      expect(csp).not.toMatch(/unsafe|https?:|\*/);
      const html = await page.text();
      expect(html).toContain('<script type="module" src="/api/ui/ops.js"></script>');
      expect(html).toContain('data-api="/api"');
      // No data in the shell: nothing but the app's own paths.
      expect(html).not.toMatch(/https?:\/\//);
      // …and the key field has no name, so no form submission could carry it.
      expect(/<input\s[^>]*id="key-input"[^>]*>/.exec(html)?.[0]).not.toMatch(/\bname=/);
    }
    const script = await stack.api('/api/ui/ops.js', { key: null });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('x-functions-key');
    expect((await stack.api('/api/ui/ops.css', { key: null })).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    for (const path of ['/api/ui/ops.html', '/api/ui/..%2Fpackage.json', '/api/ui/nothing.js']) {
      expect((await stack.api(path, { key: null })).status).toBe(404);
    }
  });
});
