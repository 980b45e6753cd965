import pLimit from 'p-limit';
import type { GraphRateGate } from '../../shared/core/rate/gate';
import { submitRequest } from '../../shared/use-cases/intake';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import type { RequestMessage } from '../../shared/core/queue/port';
import { services } from '../../shared/platform/composition-root';
import { processRequestMessage, WorkResult } from '../../shared/use-cases/worker';
import { sleep, waitFor } from '../support/chaos-stack';
import { assignFates, judge, planMix, Planned, Resource, settle, Verdict } from '../support/chaos-load';
import { ChaosReport, LONG } from '../support/chaos-report';
import { ChaosStack, startChaosStack } from '../support/chaos-stack';

/**
 * Graph faults: seeded random chaos on every Graph and token call while a mix of requests runs, plus
 * each fault kind scripted. The service must end every request final and correct, lose none, make no
 * duplicate chat, and never fail a request whose chat exists.
 */

const report = new ChaosReport('graph-faults');
const MIXED = LONG ? 2_400 : 300;
const SEED = 20_241;
const FAULTS_5XX = [
  '500',
  '502',
  '503',
  '504',
  'reset',
  'after:500',
  'after:502',
  'after:503',
  'after:504',
  'after:reset',
];
/**
 * Every chaos kind the simulator has, before and after the work. Random 429s are left to the long variant:
 * they say nothing about a ceiling, yet each cuts the shared rate (30%, or to just under what Graph was
 * accepting) while it regains only 0.2 requests/s or 1% a second, so 429s on ~3% of calls hold it at a few
 * requests/s (the long run's median: 6.2/s) and 300 requests take minutes. The default variant throttles
 * through scripted 429s (below) and the simulator's own token bucket.
 */
const KINDS = LONG ? [...FAULTS_5XX, '429', '429-no-retry-after'] : FAULTS_5XX;
/** Graph calls and the token endpoint are both eligible for chaos. */
const CHAOS_MATCH = { pathRegex: '^/(v1\\.0|beta)/|/oauth2/v2\\.0/token' };

let stack: ChaosStack;
let apiStatuses: number[] = [];

beforeAll(async () => {
  stack = await startChaosStack({
    simulator: { seed: SEED, tenantRps: 30, operationTimings: { inProgressAfterPolls: 0, succeededAfterPolls: 0 } },
    env: { OPERATION_DEADLINE_MINUTES: '0.5', GRAPH_MAX_RPS: '40' },
  });
  // New hires replicate within the grace window (12 s); tokens live under MSAL's 5-minute renewal
  // margin (305 s: a token is fresh for 5 s), so the token endpoint is called (and faulted) throughout the run.
  stack.sim.control.configure({ newHireReplicationSeconds: 4, tokenLifetimeSeconds: 305 });
});

afterAll(async () => {
  await stack?.stop();
  report.print();
});

async function api(path: string, init?: Parameters<ChaosStack['api']>[1]): Promise<Response> {
  const answer = await stack.api(path, init);
  apiStatuses.push(answer.status);
  return answer;
}

async function getResource(id: string): Promise<Resource | undefined> {
  const answer = await api(`/api/requests/${id}`);
  return answer.status === 200 ? ((await answer.json()) as Resource) : undefined;
}

/**
 * Submits every plan: most one by one, every fifth group of 25 through the batch route, and one in ten
 * twice at once under the same externalId (both answers must name the same request).
 */
async function submitAll(plans: Planned[]): Promise<{ ids: Map<number, string>; replays: number }> {
  const ids = new Map<number, string>();
  const limit = pLimit(16);
  let replays = 0;
  const single = async (plan: Planned): Promise<void> => {
    const twice = plan.index % 10 === 3;
    const body = twice ? { ...plan.body, externalId: `ext-${plan.topic ?? plan.index}-${SEED}` } : plan.body;
    const answers = await Promise.all(
      (twice ? [0, 1] : [0]).map(() => limit(() => api('/api/requests', { method: 'POST', json: body }))),
    );
    const seen = new Set<string>();
    for (const answer of answers) {
      expect([200, 202]).toContain(answer.status);
      if (answer.status === 200) replays += 1;
      seen.add(((await answer.json()) as Resource).id);
    }
    expect(seen.size).toBe(1);
    ids.set(plan.index, [...seen][0] as string);
  };
  const chunks: Planned[][] = [];
  for (let i = 0; i < plans.length; i += 25) chunks.push(plans.slice(i, i + 25));
  await Promise.all(
    chunks.map(async (chunk, n) => {
      if (n % 5 !== 4) {
        await Promise.all(chunk.map(single));
        return;
      }
      const answer = await limit(() =>
        api('/api/requests/batch', { method: 'POST', json: { requests: chunk.map((p) => p.body) } }),
      );
      expect(answer.status).toBe(200);
      const result = (await answer.json()) as { accepted: number; results: { index: number; id?: string }[] };
      expect(result.accepted).toBe(chunk.length);
      for (const item of result.results) ids.set((chunk[item.index] as Planned).index, item.id as string);
    }),
  );
  return { ids, replays };
}

function expectClean(verdict: Verdict): void {
  expect({
    lost: verdict.lost,
    duplicates: verdict.duplicates,
    failedButCreated: verdict.failedButCreated,
    wrong: verdict.wrong,
    unclaimed: verdict.unclaimed,
  }).toEqual({ lost: [], duplicates: [], failedButCreated: [], wrong: [], unclaimed: [] });
}

function figures(verdict: Verdict): Record<string, unknown> {
  return {
    requests: verdict.requests,
    succeeded: verdict.succeeded,
    failed: verdict.failed,
    lost: verdict.lost.length,
    duplicates: verdict.duplicates.length + verdict.unclaimed.length,
    failedButCreated: verdict.failedButCreated.length,
    wrong: verdict.wrong.length,
    gaveUp: verdict.gaveUp,
    ...(verdict.lost.length +
      verdict.duplicates.length +
      verdict.unclaimed.length +
      verdict.failedButCreated.length +
      verdict.wrong.length >
    0
      ? {
          details: [
            ...verdict.lost,
            ...verdict.duplicates,
            ...verdict.unclaimed,
            ...verdict.failedButCreated,
            ...verdict.wrong,
          ].slice(0, 20),
        }
      : {}),
    deadlineUnderChaos: verdict.deadlineUnderChaos,
    secondsToFinal: verdict.secondsToFinal,
  };
}

/**
 * Two group chats with an app (202) whose operations vanish (Graph made the chat). For (a) GET /chats/{id}
 * fails for longer than OPERATION_DEADLINE_MINUTES; for (b) the operation checks do. Runs alongside the mixed
 * run (its fault scripts name its own chats only) to keep the file short; judged by its own test.
 */
async function vanishScenario(): Promise<{
  plans: [Planned, Planned];
  first: Map<number, Resource | undefined>;
  resources: Map<number, Resource | undefined>;
  secondsToOperations: number;
}> {
  const control = stack.sim.control;
  const plans = planMix(30, SEED + 4, 'vanish', 70_000, { fates: ['vanish'] })
    .filter((p) => p.kind === 'apps')
    .slice(0, 2);
  expect(plans).toHaveLength(2);
  const [readFails, checksFail] = plans as [Planned, Planned];
  const ids = new Map<number, string>();
  for (const plan of plans) {
    const answer = await api('/api/requests', { method: 'POST', json: plan.body });
    ids.set(plan.index, ((await answer.json()) as Resource).id);
  }
  const scripted = new Set<string>();
  const covered = new Set<Planned>();
  let first: Map<number, Resource | undefined>;
  let secondsToOperations: number;
  // The two requests queue with the mixed run's and meet its random faults (a 5xx or a reset sends one back
  // to the queue with a backoff), so their operations can take a while to appear: up to three minutes.
  // Whatever happens, the scripts below are cleared on the way out, or they would outlive this scenario
  // and reach the next test.
  const submitted = Date.now();
  try {
    const watcher = waitFor(
      'both operations',
      () => {
        for (const op of control.operations()) {
          const post = control.requests().find((r) => r.seq === op.createdByRequestSeq);
          const topic = (post?.body as { topic?: string } | null)?.topic;
          const plan = plans.find((p) => p.topic === topic);
          if (!plan || scripted.has(op.id)) continue;
          scripted.add(op.id);
          covered.add(plan);
          const hex = /19:([0-9a-f]+)@/.exec(op.chatId)?.[1] ?? op.chatId;
          control.addFault(
            plan === readFails
              ? {
                  match: { method: 'GET', pathRegex: `^/v1\\.0/chats/[^/]*${hex}[^/]*$` },
                  count: 200,
                  fault: { type: 'status', status: 503 },
                }
              : {
                  match: { method: 'GET', pathRegex: `${hex}.*operations` },
                  count: 200,
                  fault: { type: 'status', status: 503 },
                },
          );
          control.setOperationFate(op.id, 'vanish');
        }
        return covered.size >= 2 ? true : undefined;
      },
      180_000,
      50,
    );
    await watcher;
    secondsToOperations = Math.round((Date.now() - submitted) / 1000);

    // Act: past the deadline (30 s), then Graph answers again.
    first = await settle(ids, getResource, 75_000);
  } finally {
    control.clearFaults();
  }
  await sleep(5_000);
  // Past the deadline a request whose check went unanswered is checked again every 30 s, and the mixed run's
  // random faults (15% of Graph calls) are still on: each check (operation + chat read) gets through about
  // 7 times in 10, so a minute (two checks) failed about once in 12 runs. Six checks leave ~1 in 2,000.
  const resources = await settle(ids, getResource, 180_000);

  return { plans: [readFails, checksFail], first, resources, secondsToOperations };
}

let vanishRun: ReturnType<typeof vanishScenario> | undefined;

describe('Graph faults', () => {
  it(
    `seeded chaos on ${MIXED} mixed requests: all final and correct, 0 lost, 0 duplicates, none failed and created`,
    async () => {
      // Prepare
      const plans = planMix(MIXED, SEED, 'mix', 1);
      const statsBefore = stack.sim.control.stats();
      stack.sim.control.setChaos({ seed: SEED, rate: 0.15, kinds: KINDS, match: CHAOS_MATCH });
      const stopFates = assignFates(stack.sim, plans);
      apiStatuses = [];
      // The shared send rate (AIMD) as the run goes: what random 429s do to throughput.
      const rates: number[] = [];
      const sampler = setInterval(() => rates.push(services().gate.fleetRate), 1_000);
      const started = Date.now();
      vanishRun = vanishScenario();
      vanishRun.catch(() => undefined);

      // Act
      const { ids, replays } = await submitAll(plans);
      // About 3 attempts in 10 meet a fault, so now and then a request needs all 8 (MAX_TRANSIENT_FAILURES), and
      // their backoffs alone add up to as much as 5 s × (1 + 2 + … + 64) = 635 s: past the first window, the wait
      // goes on while such a request still has an attempt scheduled (seen: 3 of 300 queued for their 8th at 6 min).
      const resources = await settle(
        ids,
        getResource,
        LONG ? 20 * 60_000 : 6 * 60_000,
        LONG ? 15 * 60_000 : 7 * 60_000,
      );
      stopFates();
      clearInterval(sampler);
      await vanishRun.catch(() => undefined);
      stack.sim.control.setChaos({ rate: 0 });

      // Assess
      const verdict = judge(plans, resources, stack.sim);
      const stats = stack.sim.control.stats();
      const faults =
        stats.faultsFired.chaos +
        stats.faultsFired.script -
        statsBefore.faultsFired.chaos -
        statsBefore.faultsFired.script;
      const answers5xx = apiStatuses.filter((s) => s >= 500).length;
      report.set('mixed', {
        ...figures(verdict),
        intakeReplays: replays,
        graphCalls: stats.requests.total - statsBefore.requests.total,
        faultsInjected: faults,
        faultsByType: stats.faultsFired.byType,
        simulator429: stats.responses429 - statsBefore.responses429,
        api5xx: answers5xx,
        fleetRate: {
          max: Number(Math.max(...rates).toFixed(2)),
          min: Number(Math.min(...rates).toFixed(2)),
          median: Number([...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]?.toFixed(2)),
        },
        seconds: Math.round((Date.now() - started) / 1000),
      });
      expectClean(verdict);
      expect(verdict.succeeded + verdict.failed).toBe(MIXED);
      expect(faults).toBeGreaterThan(MIXED / 10);
      expect(answers5xx).toBe(0);
    },
    LONG ? 45 * 60_000 : 15 * 60_000,
  );

  it(
    'every fault kind scripted once on POST /chats, lookups, polls and the token endpoint: each request still right',
    async () => {
      // Prepare: one request per script; scripts are used up by whichever call comes first, so the check is
      // on the whole set (each request correct, one chat each) and on every script having fired.
      const control = stack.sim.control;
      control.configure({ tokenLifetimeSeconds: 60 });
      const post = { method: 'POST', pathPrefix: '/v1.0/chats' };
      const token = { method: 'POST', pathRegex: '/oauth2/v2\\.0/token' };
      const scripts = [
        { match: post, fault: { type: 'status', status: 429, retryAfter: 1 } },
        { match: post, fault: { type: 'status', status: 429, retryAfter: null } },
        { match: post, fault: { type: 'status', status: 429, retryAfter: 0.4 } },
        { match: post, fault: { type: 'status', status: 500 } },
        { match: post, fault: { type: 'status', status: 502 } },
        { match: post, fault: { type: 'status', status: 503, retryAfter: 1 } },
        { match: post, fault: { type: 'status', status: 504 } },
        { match: post, fault: { type: 'reset' } },
        { match: post, phase: 'after', fault: { type: 'status', status: 500 } },
        { match: post, phase: 'after', fault: { type: 'status', status: 503 } },
        { match: post, phase: 'after', fault: { type: 'status', status: 504 } },
        { match: post, phase: 'after', fault: { type: 'reset' } },
        { match: { method: 'GET', pathPrefix: '/v1.0/users/' }, fault: { type: 'status', status: 503 } },
        { match: { method: 'GET', pathPrefix: '/beta/chats' }, fault: { type: 'status', status: 500 } },
        { match: { method: 'GET', pathPrefix: '/beta/chats' }, fault: { type: 'reset' } },
        { match: token, fault: { type: 'status', status: 500 } },
        { match: token, fault: { type: 'status', status: 503 } },
        { match: token, fault: { type: 'reset' } },
      ] as const;
      const plans = planMix(40, SEED + 1, 'scripted', 40_000).filter((p) => p.kind === 'group' || p.kind === 'apps');
      for (const plan of plans) if (plan.kind === 'apps') plan.fate = 'succeed';
      for (const plan of plans) if (plan.kind === 'apps') plan.expect = 'succeeded';
      for (const plan of plans) if (plan.kind === 'apps') plan.expectCodes = undefined;
      const firedBefore = control.stats().faultsFired.script;
      const ours = new Set(scripts.map((script) => control.addFault(script as never).id));

      // Act
      const ids = new Map<number, string>();
      await Promise.all(
        plans.map(async (plan) => {
          const answer = await api('/api/requests', { method: 'POST', json: plan.body });
          expect(answer.status).toBe(202);
          ids.set(plan.index, ((await answer.json()) as Resource).id);
        }),
      );
      const resources = await settle(ids, getResource, 4 * 60_000);

      // Assess
      const verdict = judge(plans, resources, stack.sim);
      const fired = control.stats().faultsFired.script - firedBefore;
      const left = control.faults().filter((script) => ours.has(script.id));
      control.clearFaults();
      control.configure({ tokenLifetimeSeconds: 305 });
      report.set('scripted', { ...figures(verdict), scripts: scripts.length, fired, unfired: left.length });
      expectClean(verdict);
      expect(left.map((s) => s.match)).toEqual([]);
      expect(fired).toBe(scripts.length);
    },
    6 * 60_000,
  );

  it(
    'a token endpoint that refuses for a moment (temporarily_unavailable, server_error) delays requests, never fails them',
    async () => {
      // Entra's own transient errors come as 400/500 bodies with AADSTS codes; they are not configuration errors.
      const control = stack.sim.control;
      control.configure({ tokenLifetimeSeconds: 60 });
      const token = { method: 'POST', pathRegex: '/oauth2/v2\\.0/token' };
      control.addFault({ match: token, count: 3, fault: { type: 'tokenError', error: 'temporarily_unavailable' } });
      const plans = planMix(8, SEED + 2, 'token', 50_000).filter((p) => p.kind === 'group');
      const ids = new Map<number, string>();
      for (const plan of plans) {
        const answer = await api('/api/requests', { method: 'POST', json: plan.body });
        ids.set(plan.index, ((await answer.json()) as Resource).id);
      }
      const resources = await settle(ids, getResource, 2 * 60_000);
      control.clearFaults();
      control.configure({ tokenLifetimeSeconds: 305 });
      const verdict = judge(plans, resources, stack.sim);
      report.set('tokenTransient', figures(verdict));
      expectClean(verdict);
    },
    4 * 60_000,
  );

  // Found by this suite: an operation whose checks failed until OPERATION_DEADLINE_MINUTES, or a vanished one
  // whose chat read failed then, was failed although its chat existed ("failed and created").
  it(
    'an operation that vanished, or whose checks kept failing, is not failed while its chat exists',
    async () => {
      const { plans, first, resources, secondsToOperations } = await (vanishRun ?? vanishScenario());
      const [readFails, checksFail] = plans;
      // Assess
      const verdict = judge(plans, resources, stack.sim);
      report.set('operationDeadlineWithChat', {
        ...figures(verdict),
        states: [...first.values()].map((r) => `${r?.state}:${r?.error?.code ?? ''}`),
        secondsToOperations,
      });
      expect(verdict.failedButCreated).toEqual([]);
      expect(resources.get(readFails.index)?.state).toBe('succeeded');
      expect(resources.get(checksFail.index)?.state).toBe('succeeded');
    },
    5 * 60_000,
  );

  // Found by this suite and fixed in 08c5014: the worker's give-up used to drop `outcomeUnknownSince`, so an
  // operator's retry posted a second group chat instead of adopting the one the lost POST made.
  it(
    'a request that gave up after an unknown outcome is retried by ops without a second chat',
    async () => {
      // Prepare: the worker is driven directly with a clock that jumps over each backoff (8 transient
      // failures take 5-10 minutes of real time); storage and Graph are the real adapters of this stack.
      const control = stack.sim.control;
      const plan = planMix(10, SEED + 5, 'giveup', 80_000).find((p) => p.kind === 'group') as Planned;
      const sent: { message: RequestMessage; delaySeconds: number }[] = [];
      const queue = {
        send: async (message: RequestMessage, delaySeconds = 0) => void sent.push({ message, delaySeconds }),
      };
      const gate = {
        acquire: async () => ({ ok: true as const }),
        recordAccepted: () => undefined,
        recordThrottle: async () => undefined,
      } as unknown as GraphRateGate;
      const svc = services();
      let clock = Date.now();
      const deps = {
        store: svc.store,
        queue,
        graph: svc.graph,
        gate,
        graceMinutes: 0.2,
        log: () => undefined,
        now: () => new Date(clock),
        random: () => 0,
      };
      const parsed = parseProvisioningRequest(plan.body, new Date());
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      const created = await submitRequest(parsed.value, payloadHash(parsed.value), [], {
        store: svc.store,
        queue,
        log: () => undefined,
      });
      const id = (created as { request: { id: string } }).request.id;
      // The first POST makes the chat and its answer is lost; every lookup after it fails (Graph degraded).
      control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        phase: 'after',
        fault: { type: 'status', status: 503 },
      });
      control.addFault({
        match: { method: 'GET', pathPrefix: '/v1.0/users/' },
        count: 50,
        fault: { type: 'status', status: 503 },
      });

      // Act: deliver each message as it comes due, until the worker gives up.
      const results: WorkResult[] = [];
      for (let round = 0; round < 30 && sent.length > 0; round += 1) {
        const next = sent.shift() as { message: RequestMessage; delaySeconds: number };
        clock += next.delaySeconds * 1000 + 1000;
        results.push(await processRequestMessage(next.message, deps));
      }
      control.clearFaults();
      const gaveUp = (await getResource(id)) as Resource;
      const chatsAfterGiveUp = control.chats().chats.filter((c) => c.topic === plan.topic).length;
      // An operator retries it (the real route, the real worker of the host).
      const retry = await api(`/api/requests/${id}/retry`, { method: 'POST' });
      const final = await waitFor(
        'the retried request to finish',
        async () => {
          const r = await getResource(id);
          return r && (r.state === 'succeeded' || r.state === 'failed') && r.attempts > gaveUp.attempts ? r : undefined;
        },
        60_000,
      );

      // Assess
      const chats = control.chats().chats.filter((c) => c.topic === plan.topic);
      report.set('giveUpThenRetry', {
        workerResults: results.join(','),
        stateAfterGiveUp: gaveUp.state,
        chatsAfterGiveUp,
        retryStatus: retry.status,
        finalState: final.state,
        chatsAfterRetry: chats.length,
      });
      expect(gaveUp.state).toBe('failed');
      expect(retry.status).toBe(202);
      expect(chats).toHaveLength(1);
      expect(final).toMatchObject({ state: 'succeeded', chat: { id: chats[0]?.id } });
    },
    3 * 60_000,
  );

  // Found by this suite: the chat an earlier attempt may have made was matched by topic and members only, and
  // the oldest match won, so a second request for an identical chat whose POST answer was lost adopted the
  // first request's chat. Group chats are now claimed by their request (table-schema.md, "chat owner").
  it(
    'two requests for identical chats: the one whose answer was lost adopts its own chat, not the other',
    async () => {
      const control = stack.sim.control;
      const plan = planMix(10, SEED + 6, 'twin', 90_000).find((p) => p.kind === 'group') as Planned;
      const first = await api('/api/requests', {
        method: 'POST',
        json: { ...plan.body, externalId: `twin-a-${SEED}` },
      });
      const a = ((await first.json()) as Resource).id;
      const doneA = await waitFor(
        'the first request',
        async () => {
          const r = await getResource(a);
          return r?.state === 'succeeded' ? r : undefined;
        },
        30_000,
      );
      control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        phase: 'after',
        fault: { type: 'status', status: 503 },
      });
      const second = await api('/api/requests', {
        method: 'POST',
        json: { ...plan.body, externalId: `twin-b-${SEED}` },
      });
      const b = ((await second.json()) as Resource).id;
      const doneB = await waitFor(
        'the second request',
        async () => {
          const r = await getResource(b);
          return r && (r.state === 'succeeded' || r.state === 'failed') ? r : undefined;
        },
        60_000,
      );
      const chats = control
        .chats()
        .chats.filter((c) => c.topic === plan.topic)
        .map((c) => c.id);
      report.set('identicalRequests', { chats: chats.length, sameChat: doneA.chat?.id === doneB.chat?.id });
      expect(chats).toHaveLength(2);
      expect(doneB.state).toBe('succeeded');
      expect(doneB.chat?.id).not.toBe(doneA.chat?.id);
      expect(chats.sort()).toEqual([doneA.chat?.id, doneB.chat?.id].sort());
    },
    2 * 60_000,
  );

  (LONG ? it : it.skip)(
    'long: a POST answered after the 30 s client timeout (the chat was made) is adopted, not posted again',
    async () => {
      const control = stack.sim.control;
      control.addFault({
        match: { method: 'POST', pathPrefix: '/v1.0/chats' },
        phase: 'after',
        fault: { type: 'delay', ms: 35_000 },
      });
      const plans = planMix(6, SEED + 3, 'slow', 60_000)
        .filter((p) => p.kind === 'group')
        .slice(0, 1);
      const ids = new Map<number, string>();
      const answer = await api('/api/requests', { method: 'POST', json: plans[0]!.body });
      ids.set(plans[0]!.index, ((await answer.json()) as Resource).id);
      const resources = await settle(ids, getResource, 3 * 60_000);
      const verdict = judge(plans, resources, stack.sim);
      report.set('slowerThanTimeout', { ...figures(verdict), attempts: resources.get(plans[0]!.index)?.attempts });
      expectClean(verdict);
      expect(resources.get(plans[0]!.index)?.attempts).toBeGreaterThanOrEqual(2);
    },
    5 * 60_000,
  );
});
