import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { eventually, startStack, Stack } from '../support/stack';

/**
 * The ops page in a real browser (Debian's Chromium, driven by puppeteer-core) against the real local
 * stack: key form, counts, list, filters, paging, a failed request's error, retry until it succeeds, a
 * waiting request's reason, and not one request to any host but the app's. Each view is saved as a
 * screenshot in test-results/ops-page/ (git-ignored) for a person to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve(__dirname, '../../test-results/ops-page');
const haveBrowser = existsSync(CHROMIUM);
const HOW = `no Chromium at ${CHROMIUM}. Install it (apt-get install -y chromium) or set CHROMIUM_PATH, then run npx jest test/e2e/ops-page.test.ts; .ci/run installs it by itself`;

if (!haveBrowser) process.stderr.write(`\nSKIPPED the ops page browser test: ${HOW}.\n\n`);

/** What the tests read of an element inside the page (the DOM library is not part of the Node build). */
interface El {
  innerText: string;
  textContent: string | null;
  hidden: boolean;
  href: string;
  dataset: Record<string, string | undefined>;
}

interface Resource {
  id: string;
  state: string;
}

const group = (n: number, extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: `Welcome ${n}`,
  externalId: `ops-${n}`,
  members: [`user${n}@contoso.com`, `user${n + 500}@contoso.com`, `user${n + 900}@contoso.com`],
  ...extra,
});

(haveBrowser ? describe : describe.skip)(
  haveBrowser ? 'ops page in a browser' : `ops page in a browser (SKIPPED: ${HOW})`,
  () => {
    let stack: Stack;
    let browser: Browser;
    let page: Page;
    let profile: string;
    const seen: string[] = [];
    const cspViolations: string[] = [];
    let failedId: string;
    let waitingId: string;
    let pendingId: string;

    const shot = async (name: string) => {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    };
    const text = (selector: string) => page.$eval(selector, (el) => (el as unknown as El).innerText);
    const rowStates = () =>
      page.$$eval('#list tbody tr', (rows) => rows.map((r) => (r as unknown as El).dataset.state ?? ''));

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      stack = await startStack({ env: { NEW_USER_GRACE_MINUTES: '0.001' } });
      const ids: string[] = [];
      // One 429 on the first POST /chats: the limiter cuts the shared rate, which the page shows.
      stack.sim.control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        fault: { type: 'status', status: 429, retryAfter: 1 },
      });
      const batch = await stack.api('/api/requests/batch', {
        method: 'POST',
        json: { requests: Array.from({ length: 11 }, (_, i) => group(i + 1)) },
      });
      for (const r of ((await batch.json()) as { results: { id: string }[] }).results) ids.push(r.id);
      // A member without a license: 403, and with a grace window of 60 ms the request fails on its second attempt.
      const failing = await stack.api('/api/requests', {
        method: 'POST',
        json: group(40, {
          topic: 'Welcome Ana',
          members: ['unlicensed40@contoso.com', 'user540@contoso.com'],
          // Not in CALLBACK_ALLOWED_HOSTS (empty): refused before any connection, and shown on the page.
          callbackUrl: 'https://hooks.contoso.com/chats',
        }),
      });
      failedId = ((await failing.json()) as Resource).id;
      ids.push(failedId);
      const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
      const waiting = await stack.api('/api/requests', {
        method: 'POST',
        json: group(50, { topic: 'Starts on Monday', notBefore: later }),
      });
      waitingId = ((await waiting.json()) as Resource).id;
      // A chat with an app: Graph answers 202 and its operation never finishes, so the request stays pending.
      stack.sim.control.configure({ defaultOperationFate: 'stall' });
      const pending = await stack.api('/api/requests', {
        method: 'POST',
        json: group(60, { topic: 'Team with an app', apps: [{ teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4' }] }),
      });
      pendingId = ((await pending.json()) as Resource).id;
      await eventually(async () => {
        const { state } = (await (await stack.api(`/api/requests/${pendingId}`)).json()) as Resource;
        return state === 'pending' ? state : undefined;
      });
      await eventually(async () => {
        const states = await Promise.all(
          ids.map(async (id) => ((await (await stack.api(`/api/requests/${id}`)).json()) as Resource).state),
        );
        return states.every((s) => s === 'succeeded' || s === 'failed') ? states : undefined;
      });

      profile = mkdtempSync(join(tmpdir(), 'ops-page-chromium-'));
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        userDataDir: profile,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      page = await browser.newPage();
      await page.setViewport({ width: 1366, height: 900 });
      page.on('request', (request) => seen.push(request.url()));
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
      });
    });

    afterAll(async () => {
      await browser?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await stack?.stop();
    });

    it('asks for a key, refuses a wrong one, and never puts a key in a URL', async () => {
      await page.goto(`${stack.host!.url}/api/ui`);
      await page.waitForSelector('#key-input', { visible: true });
      expect(await page.$eval('#app-view', (el) => (el as unknown as El).hidden)).toBe(true);
      await shot('1-key');

      await page.type('#key-input', 'not-the-key');
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#key-error:not([hidden])');
      expect(await text('#key-error')).toMatch(/refused \(401\)/);
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
      expect(await page.$eval('#app-view', (el) => (el as unknown as El).hidden)).toBe(true);

      await page.type('#key-input', stack.functionKey);
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#list tbody tr');
      expect(seen.some((url) => url.includes(stack.functionKey) || url.includes('not-the-key'))).toBe(false);
    });

    it('shows the counts per state, the poison depth and the limiter', async () => {
      await page.waitForFunction(`document.querySelector('.count-failed .count-n')?.textContent === '1'`);
      expect(await text('.count-succeeded .count-n')).toBe('11');
      expect(await text('.count-queued .count-n')).toBe('1');
      expect(await text('.count-pending .count-n')).toBe('1');
      expect(await text('.count-creating .count-n')).toBe('0');
      expect(await text('#poison .count-n')).toBe('0');
      const limiter = await text('#limiter');
      expect(limiter).toMatch(/shared rate now, of 20\/s/);
      expect(limiter).toMatch(/Last cut by a 429\s+\S/);
      expect(limiter).not.toMatch(/none since/);
      expect(limiter).toMatch(/1 seen while this page was open/);
      expect(await page.$('#limiter svg.sparkline polyline')).not.toBeNull();
      expect((await rowStates()).sort()).toEqual(
        ['failed', 'pending', 'queued', ...Array<string>(11).fill('succeeded')].sort(),
      );
      await shot('2-summary-and-list');
    });

    it('filters by state and externalId, and pages with nextLink', async () => {
      await page.select('#f-state', 'failed');
      await page.click('#filters button[type=submit]');
      await page.waitForFunction(`document.querySelectorAll('#list tbody tr').length === 1`);
      expect(await rowStates()).toEqual(['failed']);
      expect(await text('#list tbody tr')).toMatch(/Forbidden/);
      await shot('3-filtered-failed');

      await page.select('#f-state', '');
      await page.type('#f-external', 'ops-3');
      await page.click('#filters button[type=submit]');
      await page.waitForFunction(`document.querySelector('#list tbody tr td:nth-child(3)')?.textContent === 'ops-3'`);
      expect((await rowStates()).length).toBe(1);

      await page.click('#f-clear');
      await page.waitForFunction(`document.querySelectorAll('#list tbody tr').length === 14`);
      await page.select('#f-top', '10');
      await page.click('#filters button[type=submit]');
      await page.waitForFunction(`document.querySelectorAll('#list tbody tr').length === 10`);
      const first = await page.$$eval('#list tbody tr', (rows) => rows.map((r) => (r as unknown as El).dataset.id));
      await page.click('#next-page');
      await page.waitForFunction(`document.querySelectorAll('#list tbody tr').length === 4`);
      const second = await page.$$eval('#list tbody tr', (rows) => rows.map((r) => (r as unknown as El).dataset.id));
      expect(second.filter((id) => first.includes(id))).toEqual([]);
      expect(await page.$('#next-page')).toBeNull();
    });

    it("opens a failed request and shows its error with Graph's request-id", async () => {
      await page.click('#f-clear');
      await page.waitForSelector(`#list tr[data-id="${failedId}"] a`);
      await page.click(`#list tr[data-id="${failedId}"] a`);
      await page.waitForSelector('#error');
      expect(await text('#detail-title')).toMatch(/Welcome Ana\s+failed/);
      const error = await text('#error');
      expect(error).toMatch(/no Teams license/);
      expect(error).toMatch(/HTTP 403/);
      const graphRequestId = (
        (await stack.api(`/api/requests/${failedId}`).then((r) => r.json())) as {
          error: { graphRequestId: string };
        }
      ).error.graphRequestId;
      expect(graphRequestId).toBeTruthy();
      expect(error).toContain(graphRequestId);
      expect(await text('#detail')).toMatch(/unlicensed40@contoso\.com/);
      expect(await text('#callback')).toMatch(/refused: .*CALLBACK_ALLOWED_HOSTS/);
      expect(await text('#callback')).toMatch(/refused: .*CALLBACK_ALLOWED_HOSTS/);
      expect(await page.$('#retry')).not.toBeNull();
      await shot('4-request-failed');
    });

    it('retries it and sees it succeed, with a link to the chat', async () => {
      // The operator fixed the cause: the member now has a license.
      stack.sim.control.upsertUsers({ userPrincipalName: 'unlicensed40@contoso.com', licensed: true });
      await page.click('#retry');
      await page.waitForFunction(`/Retried/.test(document.getElementById('status')?.textContent ?? '')`);
      // The page refreshes by itself every 5 s.
      await page.waitForFunction(`/succeeded/.test(document.getElementById('detail-title')?.textContent ?? '')`, {
        timeout: 60_000,
      });
      const link = await page.$eval('#chat-link', (a) => (a as unknown as El).href);
      expect(link).toMatch(/^https:\/\/teams\.microsoft\.com\//);
      expect(await page.$('#retry')).toBeNull();
      await shot('5-request-retried-succeeded');
    });

    it('says why a request waits', async () => {
      await page.goto(`${stack.host!.url}/api/ui#/requests/${waitingId}`);
      await page.waitForSelector('#waiting');
      expect(await text('#waiting')).toMatch(/Not before/);
      expect(await text('#detail-title')).toMatch(/queued/);
      await shot('6-request-waiting');
    });

    it('follows a pending operation', async () => {
      await page.goto(`${stack.host!.url}/api/ui#/requests/${pendingId}`);
      await page.waitForSelector('#operation');
      expect(await text('#detail-title')).toMatch(/pending/);
      expect(await text('#waiting')).toMatch(/Operation pending/);
      expect(await text('#operation')).toMatch(/inProgress|notStarted/);
      expect(await text('#operation')).toMatch(/\/chats\('19:/);
      await shot('7-request-pending');
    });

    it("shows the service's own reason to wait when the resource carries one", async () => {
      // `waiting` is an optional field of the resource; the page prefers it to reading the other fields.
      const until = new Date(Date.now() + 90_000).toISOString();
      await page.setRequestInterception(true);
      const rewrite = (request: import('puppeteer-core').HTTPRequest) => {
        if (request.isInterceptResolutionHandled()) return;
        if (!request.url().endsWith(`/api/requests/${waitingId}`)) return void request.continue();
        void stack.api(`/api/requests/${waitingId}`).then(async (answer) => {
          const body = {
            ...((await answer.json()) as object),
            waiting: { reason: 'throttled', until, message: 'Graph said 429: waiting out Retry-After.' },
          };
          await request.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
        });
      };
      page.on('request', rewrite);
      try {
        await page.goto(`${stack.host!.url}/api/ui#/requests/${waitingId}`);
        await page.waitForFunction(`/Throttled by Graph/.test(document.getElementById('waiting')?.textContent ?? '')`);
        expect(await text('#waiting')).toMatch(/Graph said 429: waiting out Retry-After\./);
      } finally {
        page.off('request', rewrite);
        await page.setRequestInterception(false);
      }
    });

    it('labels every control and works from the keyboard', async () => {
      await page.goto(`${stack.host!.url}/api/ui#/`);
      await page.waitForSelector('#list tbody tr');
      expect(await page.evaluate('document.documentElement.lang')).toBe('en');
      const unlabelled = await page.evaluate(
        `[...document.querySelectorAll('input, select')].filter((c) => c.labels.length === 0).map((c) => c.id)`,
      );
      expect(unlabelled).toEqual([]);
      const nameless = await page.evaluate(
        `[...document.querySelectorAll('button, a')].filter((b) => !(b.getAttribute('aria-label') || b.textContent.trim())).length`,
      );
      expect(nameless).toBe(0);
      // The failed count is a link: focus it and press Enter to list the failed requests.
      await page.focus('.count-failed');
      await page.keyboard.press('Enter');
      await page.waitForFunction(`location.hash === '#/?state=failed'`);
      await page.waitForFunction(`document.getElementById('f-state').value === 'failed'`);
      // A small laptop window: the same page, counts in two rows.
      await page.setViewport({ width: 1024, height: 768 });
      await page.goto(`${stack.host!.url}/api/ui#/`);
      await page.waitForSelector('#list tbody tr');
      await shot('8-small-window');
      await page.setViewport({ width: 1366, height: 900 });
    });

    it('forgets the key on request', async () => {
      await page.click('#forget-key');
      await page.waitForSelector('#key-input', { visible: true });
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
    });

    it('sent no request to any host but the app, and broke no Content-Security-Policy rule', () => {
      const origin = new URL(stack.host!.url).origin;
      expect(seen.length).toBeGreaterThan(10);
      expect(seen.filter((url) => new URL(url).origin !== origin)).toEqual([]);
      expect(cspViolations).toEqual([]);
    });
  },
);
