import type { GraphSimulator, SimChat } from '../../dev/simulator';
import { sleep } from './chaos-stack';

/**
 * Mixed provisioning requests whose right outcome is known in advance, and the one check every chaos
 * scenario ends with: each request final and correct, none lost, no duplicate chat, none both failed
 * and created.
 */

export type Kind = 'group' | 'oneOnOne' | 'apps' | 'newHire' | 'unlicensed';
export type Fate = 'succeed' | 'vanish' | 'failed' | 'stall';

export interface Planned {
  index: number;
  kind: Kind;
  /** Unique per request (group chats are found in the simulator by it). */
  topic?: string;
  body: Record<string, unknown>;
  /** For `apps`: what the simulator's operation does. */
  fate?: Fate;
  expect: 'succeeded' | 'failed';
  /** Error codes a correct failure may carry. */
  expectCodes?: RegExp;
  /**
   * Failures the API's contract allows when chaos hit this request's own checks (an operation whose polls kept
   * failing past OPERATION_DEADLINE_MINUTES): correct only while no chat exists; counted apart.
   */
  chaosMayFail?: RegExp;
  /** Member user ids in the simulator (for one-on-one chats). */
  memberIds: string[];
}

export interface Resource {
  id: string;
  state: string;
  topic?: string;
  attempts: number;
  chat?: { id: string };
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
  nextAttemptAt?: string;
  operation?: { status: string; checks: number };
}

/** Licensed generated users: `user<N>@contoso.com`, id `5e000000-0000-4000-8000-<N, 12 digits>`. */
export function userId(n: number, block = '5e000000'): string {
  return `${block}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** A small seeded PRNG (mulberry32), so a run's mix is reproducible from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const APP_ID = '05F59CEC-A742-4A50-A62E-202A57E478A4';

/**
 * `count` requests: mostly group chats, some one-on-one, some with an app (202 + operation with a fate),
 * some with a new hire (404 for a while, then fine) and some with an unlicensed member (403 → failed).
 * `userBase` keeps the users of different runs apart.
 */
export function planMix(
  count: number,
  seed: number,
  run: string,
  userBase = 1,
  options: { fates?: Fate[] } = {},
): Planned[] {
  const random = seeded(seed);
  const plans: Planned[] = [];
  let user = userBase;
  // `vanish` is left out of the mix: graph-faults.test.ts shows its open bug on its own (see there).
  const fates: Fate[] = options.fates ?? ['succeed', 'succeed', 'failed', 'stall'];
  for (let index = 0; index < count; index += 1) {
    const r = random();
    const kind: Kind =
      r < 0.5 ? 'group' : r < 0.7 ? 'oneOnOne' : r < 0.85 ? 'apps' : r < 0.93 ? 'newHire' : 'unlicensed';
    const topic = `chaos ${run} ${index}`;
    if (kind === 'oneOnOne') {
      const a = user++;
      const b = user++;
      plans.push({
        index,
        kind,
        body: { chatType: 'oneOnOne', members: [`user${a}@contoso.com`, `user${b}@contoso.com`] },
        expect: 'succeeded',
        memberIds: [userId(a), userId(b)],
      });
      continue;
    }
    const a = user++;
    const b = user++;
    const members: unknown[] = [`user${a}@contoso.com`, { user: `user${b}@contoso.com`, role: 'owner' }];
    const memberIds = [userId(a), userId(b)];
    let expect: Planned['expect'] = 'succeeded';
    let expectCodes: RegExp | undefined;
    let fate: Fate | undefined;
    if (kind === 'newHire') {
      members.push(`newhire${index + userBase}@contoso.com`);
    } else if (kind === 'unlicensed') {
      members.push(`unlicensed${index + userBase}@contoso.com`);
      expect = 'failed';
      expectCodes = /^Forbidden$/;
    } else {
      const c = user++;
      members.push(`user${c}@contoso.com`);
      memberIds.push(userId(c));
    }
    const body: Record<string, unknown> = { chatType: 'group', topic, members };
    if (kind === 'apps') {
      body.apps = [{ teamsAppId: APP_ID }];
      fate = fates[Math.floor(random() * fates.length)] as Fate;
      if (fate === 'failed') {
        expect = 'failed';
        expectCodes = /^(ChaosOperationFailed|OperationTimeout)$/;
      } else if (fate === 'stall') {
        expect = 'failed';
        expectCodes = /^OperationTimeout$/;
      }
    }
    const chaosMayFail = kind === 'apps' && expect === 'succeeded' ? /^OperationTimeout$/ : undefined;
    plans.push({ index, kind, topic, body, fate, expect, expectCodes, chaosMayFail, memberIds });
  }
  return plans;
}

/**
 * Gives each operation the fate its request planned, as soon as the simulator starts it (found through
 * the POST that started it, by topic). Stop it with the returned function.
 */
export function assignFates(sim: GraphSimulator, plans: Planned[]): () => void {
  const byTopic = new Map(plans.filter((p) => p.topic).map((p) => [p.topic as string, p]));
  const done = new Set<string>();
  const topicBySeq = new Map<number, string>();
  let lastSeq = 0;
  let stopped = false;
  const tick = (): void => {
    for (const request of sim.control.requests(lastSeq)) {
      lastSeq = Math.max(lastSeq, request.seq);
      const topic = (request.body as { topic?: unknown } | null)?.topic;
      if (request.method === 'POST' && typeof topic === 'string') topicBySeq.set(request.seq, topic);
    }
    for (const op of sim.control.operations()) {
      if (done.has(op.id)) continue;
      const topic = topicBySeq.get(op.createdByRequestSeq);
      const plan = topic ? byTopic.get(topic) : undefined;
      if (!plan?.fate) continue;
      done.add(op.id);
      if (plan.fate === 'succeed') continue;
      sim.control.setOperationFate(
        op.id,
        plan.fate === 'failed'
          ? {
              fate: 'failed',
              error: { code: 'ChaosOperationFailed', message: 'The chaos suite failed this operation' },
            }
          : plan.fate,
      );
    }
  };
  const loop = async (): Promise<void> => {
    while (!stopped) {
      tick();
      await sleep(100);
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}

export interface Verdict {
  requests: number;
  succeeded: number;
  failed: number;
  /** Not final (or unknown to the API) at the end. */
  lost: string[];
  /** Group requests with more than one chat of their topic. */
  duplicates: string[];
  /** Chats of this run's members or topics that no request names as its chat (a second chat by another way). */
  unclaimed: string[];
  /** Failed, yet their chat exists. */
  failedButCreated: string[];
  /** Final but not what the plan says (wrong state or reason, or a chat that is not theirs). */
  wrong: string[];
  /** Correct failures that chaos explains (gave up after the transient-failure budget). */
  gaveUp: number;
  /** Operations failed past their deadline because chaos kept failing their checks (no chat exists). */
  deadlineUnderChaos: number;
  /** Seconds from accepted to final: median, 95th percentile, max. */
  secondsToFinal: { p50: number; p95: number; max: number };
}

/** Checks every request against its plan and against the simulator's chats. */
export function judge(plans: Planned[], resources: Map<number, Resource | undefined>, sim: GraphSimulator): Verdict {
  const chats = sim.control.chats().chats;
  const byTopic = new Map<string, SimChat[]>();
  for (const chat of chats) {
    if (chat.topic) byTopic.set(chat.topic, [...(byTopic.get(chat.topic) ?? []), chat]);
  }
  const byId = new Map(chats.map((c) => [c.id, c]));
  const verdict: Verdict = {
    requests: plans.length,
    succeeded: 0,
    failed: 0,
    lost: [],
    duplicates: [],
    failedButCreated: [],
    wrong: [],
    gaveUp: 0,
    deadlineUnderChaos: 0,
    secondsToFinal: { p50: 0, p95: 0, max: 0 },
    unclaimed: [],
  };
  const durations = [...resources.values()]
    .filter((r): r is Resource => Boolean(r && (r.state === 'succeeded' || r.state === 'failed')))
    .map((r) => (Date.parse(r.updatedAt) - Date.parse(r.createdAt)) / 1000)
    .sort((a, b) => a - b);
  const at = (q: number): number =>
    Math.round(durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0);
  verdict.secondsToFinal = { p50: at(0.5), p95: at(0.95), max: at(1) };
  const topics = new Set(plans.map((p) => p.topic).filter(Boolean));
  const pairs = plans.filter((p) => p.kind === 'oneOnOne').map((p) => p.memberIds);
  const claimed = new Set([...resources.values()].map((r) => r?.chat?.id).filter(Boolean));
  for (const chat of chats) {
    const ours =
      (chat.topic !== null && topics.has(chat.topic)) ||
      (chat.chatType === 'oneOnOne' &&
        pairs.some((ids) => ids.every((id) => chat.members.some((m) => m.userId === id))));
    if (ours && !claimed.has(chat.id)) verdict.unclaimed.push(`${chat.id} (${chat.topic ?? 'oneOnOne'})`);
  }
  for (const plan of plans) {
    const resource = resources.get(plan.index);
    const label = `#${plan.index} ${plan.kind}${plan.fate ? `/${plan.fate}` : ''} ${resource?.id ?? '(no id)'}`;
    if (!resource || (resource.state !== 'succeeded' && resource.state !== 'failed')) {
      const where = resource
        ? `${resource.state}, ${resource.attempts} attempts, updated ${resource.updatedAt}` +
          `${resource.nextAttemptAt ? `, next ${resource.nextAttemptAt}` : ''}${resource.error ? `, ${resource.error.code}` : ''}`
        : 'unknown';
      verdict.lost.push(`${label}: ${where}`);
      continue;
    }
    if (resource.state === 'succeeded') verdict.succeeded += 1;
    else verdict.failed += 1;
    const own = plan.topic ? (byTopic.get(plan.topic) ?? []) : [];
    if (plan.topic && own.length > 1) verdict.duplicates.push(`${label}: ${own.length} chats`);
    if (resource.state === 'failed') {
      if (own.length > 0) verdict.failedButCreated.push(`${label}: ${resource.error?.code}`);
      const gaveUp = /gave up after/.test(resource.error?.message ?? '');
      if (gaveUp) verdict.gaveUp += 1;
      if (plan.chaosMayFail?.test(resource.error?.code ?? '') && own.length === 0) {
        verdict.deadlineUnderChaos += 1;
        continue;
      }
      if (plan.expect !== 'failed' && !gaveUp)
        verdict.wrong.push(`${label}: failed ${resource.error?.code} ${resource.error?.message}`);
      else if (plan.expectCodes && !plan.expectCodes.test(resource.error?.code ?? '') && !gaveUp)
        verdict.wrong.push(`${label}: failed with ${resource.error?.code}, expected ${plan.expectCodes}`);
      continue;
    }
    if (plan.expect !== 'succeeded') {
      verdict.wrong.push(`${label}: succeeded, expected failed ${plan.expectCodes}`);
      continue;
    }
    const chat = resource.chat ? byId.get(resource.chat.id) : undefined;
    if (!chat) {
      verdict.wrong.push(`${label}: succeeded with chat ${resource.chat?.id} that does not exist`);
      continue;
    }
    if (
      plan.topic ? chat.topic !== plan.topic : !plan.memberIds.every((id) => chat.members.some((m) => m.userId === id))
    )
      verdict.wrong.push(`${label}: succeeded with someone else's chat ${chat.id}`);
  }
  return verdict;
}

/** Reads every request's resource until all are final or `ms` has passed; returns the last view of each. */
export async function settle(
  ids: Map<number, string>,
  get: (id: string) => Promise<Resource | undefined>,
  ms: number,
  graceMs = 0,
): Promise<Map<number, Resource | undefined>> {
  const last = new Map<number, Resource | undefined>();
  const open = new Set(ids.keys());
  const deadline = Date.now() + ms;
  // Past the deadline, up to graceMs more while the work still moves (a request finished, or one was written, in
  // the last 2 minutes, or one has an attempt scheduled): a slow run is waited for, a stuck request reported lost.
  let lastProgress = Date.now();
  const progressing = (): boolean =>
    Date.now() - lastProgress < 2 * 60_000 ||
    [...open].some((index) => {
      const r = last.get(index);
      if (!r) return false;
      const next = r.nextAttemptAt ? Date.parse(r.nextAttemptAt) : 0;
      return Date.now() - Date.parse(r.updatedAt) < 2 * 60_000 || next > Date.now() - 60_000;
    });
  while (open.size > 0 && (Date.now() < deadline || (Date.now() < deadline + graceMs && progressing()))) {
    const before = open.size;
    const batch = [...open];
    for (let i = 0; i < batch.length; i += 32) {
      await Promise.all(
        batch.slice(i, i + 32).map(async (index) => {
          const resource = await get(ids.get(index) as string).catch(() => undefined);
          last.set(index, resource);
          if (resource && (resource.state === 'succeeded' || resource.state === 'failed')) open.delete(index);
        }),
      );
    }
    if (open.size < before) lastProgress = Date.now();
    if (open.size > 0) await sleep(1_000);
  }
  for (const index of ids.keys()) if (!last.has(index)) last.set(index, undefined);
  return last;
}
