import { TableClient } from '@azure/data-tables';
import { burstOf } from '../dev/simulator/throttle';
import { applyLatency, countStates, graphCallsAndThrottles, perSecond } from './p1-bulk';
import {
  childPids,
  cpuSecondsOf,
  type HostProcess,
  serviceEnv,
  sleep,
  startHostProcess,
  startSimulator,
  startStorage,
} from './stack';
import { duplicateCount, ratio, share, sustainedRate } from './stats';
import { compactRequest } from './workload';

/**
 * P5 fleet: `hosts` local host processes (each its own process, as Azure instances are) share one Azurite
 * and one simulator whose tenant ceiling none of them is told (GRAPH_MAX_RPS=1000 in each); they meet only in
 * the work table's `throttle/graph` row and heartbeats, as a Flex Consumption fleet does. The requests are
 * submitted to the hosts in turn (batches of BATCH_SIZE), so every host takes intake and work.
 *
 * Also measured, from outside the hosts:
 * - conflicts on the shared rate row: Azurite's access log (one line per call) is read, and every write to
 *   `throttle/graph` answered 412 (a replace whose ETag is stale) or 409 (a first insert that lost) is a
 *   conflict; counted per second;
 * - the limiter's rate: the bench reads the row about once a second (its `rate` and whether the fleet is
 *   paused), and the number of live heartbeats;
 * - peak RSS (VmHWM) of every host process.
 */

export interface P5Options {
  ceiling: number;
  hosts: number;
  requests: number;
  graphLatencyMs: number;
  log: (line: string) => void;
}

export interface RateSample {
  /** Seconds since the first batch was sent. */
  t: number;
  /** The fleet rate in the shared row (requests per second for the whole app); null before the row exists. */
  rate: number | null;
  paused: boolean;
  liveInstances: number;
  chats: number;
  throttled: number;
}

export interface P5Result {
  ceiling: number;
  hosts: number;
  requests: number;
  accepted: number;
  achievedRate: number;
  achievedOverCeiling: number;
  graphCalls: number;
  graph429: number;
  share429: number;
  succeeded: number;
  failed: number;
  lost: number;
  duplicates: number;
  timedOut: boolean;
  /** Writes to the shared rate row, and those that lost to another instance (412/409). */
  rateRow: { writes: number; conflicts: number; conflictsPerSecond: number; maxConflictsInASecond: number };
  /** Per second from the first batch: conflicts and writes on the rate row. */
  conflictTimeline: { conflicts: number[]; writes: number[] };
  /** The shared row sampled about once a second. */
  rateTimeline: RateSample[];
  /** Chats made in each second from the first chat. */
  chatsPerSecond: number[];
  hostPeakRssMiB: number[];
  cpuSeconds: { hosts: number[]; azurite: number; wallClock: number };
}

const BATCH_SIZE = 250;
const STALL_MS = 60_000;
const RATE_ROW =
  /"(PUT|POST|MERGE|PATCH) [^"]*ChatRequestsWork[^"]*\(PartitionKey=(?:'|%27)throttle(?:'|%27),\s*RowKey=(?:'|%27)graph(?:'|%27)\)[^"]*" (\d{3})/;
const INSERT = /"POST [^"]*\/ChatRequestsWork(?:\?[^"]*)? HTTP[^"]*" (\d{3})/;

export async function runP5(options: P5Options): Promise<P5Result> {
  const { ceiling, hosts: hostCount, requests, log } = options;
  const run = `p5-${ceiling}-${hostCount}-${Date.now().toString(36)}`;
  let startedAtMs = Number.NaN;
  const writes: number[] = [];
  const conflicts: number[] = [];
  const onLine = (line: string): void => {
    // Only the rate row's writes; inserts are counted as writes of the row only when they conflict (a
    // first insert happens once per fleet, and the log line of an insert does not name its keys).
    const at = Date.now();
    const row = RATE_ROW.exec(line);
    if (row) {
      writes.push(at);
      if (row[2] === '412' || row[2] === '409') conflicts.push(at);
      return;
    }
    const insert = INSERT.exec(line);
    if (insert && insert[1] === '409' && line.includes('ChatRequestsWork')) {
      // An insert in the work table that lost: the rate row's first insert, or a pending entry's check
      // (not in this workload: no 202s). Counted as a rate-row conflict.
      writes.push(at);
      conflicts.push(at);
    }
  };
  const azurite = await startStorage(onLine);
  const trusted = await startSimulator(ceiling);
  const hosts: HostProcess[] = [];
  try {
    applyLatency(trusted, options.graphLatencyMs);
    const env = serviceEnv(azurite, trusted, { GRAPH_MAX_RPS: '1000' });
    for (let i = 0; i < hostCount; i += 1) hosts.push(await startHostProcess(env));
    log(`  P5 @ ${ceiling}/s, ${hostCount} host(s) (pids ${hosts.map((h) => h.pid).join(', ')}): ${requests} requests`);
    const work = TableClient.fromConnectionString(azurite.connectionString, 'ChatRequestsWork', {
      allowInsecureConnection: true,
    });
    const azuritePid = childPids('azurite')[0];
    const cpuAtStart = { hosts: hosts.map((h) => cpuSecondsOf(h.pid)), azurite: cpuSecondsOf(azuritePid) };
    const started = performance.now();
    startedAtMs = Date.now();

    // Submission: batches dealt to the hosts in turn, each host's batches one after the other.
    const ids = new Set<string>();
    let rejected = 0;
    const batches: number[] = [];
    for (let start = 0; start < requests; start += BATCH_SIZE) batches.push(start);
    const submitting = Promise.all(
      hosts.map(async (host, h) => {
        for (let b = h; b < batches.length; b += hosts.length) {
          const start = batches[b]!;
          const items = Array.from({ length: Math.min(BATCH_SIZE, requests - start) }, (_, i) =>
            compactRequest(run, start + i),
          );
          const answer = await host.api('/api/requests/batch', { method: 'POST', json: { requests: items } });
          if (answer.status !== 200) {
            log(`    host ${h} batch at ${start}: HTTP ${answer.status} ${(await answer.text()).slice(0, 200)}`);
            rejected += items.length;
            continue;
          }
          const body = (await answer.json()) as { results: { status: string; id?: string }[] };
          for (const result of body.results) {
            if (result.id && result.status !== 'rejected') ids.add(result.id);
            else rejected += 1;
          }
        }
      }),
    );

    // Sampling (about once a second) until every accepted request has its chat; bounded as P1 is.
    const rateTimeline: RateSample[] = [];
    let submitted = false;
    void submitting.then(() => (submitted = true));
    const patience = (4 * requests * 1000) / ceiling + 60_000;
    const deadline = performance.now() + patience;
    const hardDeadline = performance.now() + 10 * patience;
    let timedOut = false;
    let progress = { chats: 0, at: performance.now() };
    let lastLog = performance.now();
    for (;;) {
      const made = trusted.sim.control.stats().chatsCreated;
      if (submitted && made >= ids.size) break;
      for (const host of hosts) host.peakRssKiB();
      rateTimeline.push(await sampleRate(work, startedAtMs, made, graphCallsAndThrottles(trusted.sim).throttled));
      if (made > progress.chats) progress = { chats: made, at: performance.now() };
      if (
        performance.now() > hardDeadline ||
        (performance.now() > deadline && performance.now() - progress.at > STALL_MS)
      ) {
        timedOut = true;
        break;
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const last = rateTimeline[rateTimeline.length - 1];
        log(
          `    ${made}/${submitted ? ids.size : '…'} chats, fleet rate ${last?.rate?.toFixed(1) ?? '–'}/s, ${conflicts.length} conflicts`,
        );
      }
      await sleep(1_000);
    }
    await submitting;

    let states = await countStates(azurite.connectionString, ids);
    const finalCount = (): number => (states.get('succeeded') ?? 0) + (states.get('failed') ?? 0);
    const finalDeadline = performance.now() + (timedOut ? 5_000 : 30_000);
    while (finalCount() < ids.size && performance.now() < finalDeadline) {
      await sleep(1_000);
      states = await countStates(azurite.connectionString, ids);
    }
    const wallClock = (performance.now() - started) / 1000;
    const hostPeakRssMiB = hosts.map((h) => h.peakRssKiB() / 1024);
    const cpuSeconds = {
      hosts: hosts.map((h, i) => cpuSecondsOf(h.pid) - cpuAtStart.hosts[i]!),
      azurite: cpuSecondsOf(azuritePid) - cpuAtStart.azurite,
      wallClock,
    };
    await Promise.all(hosts.map((h) => h.stop()));
    hosts.length = 0;

    const ours = trusted.sim.control.chats().chats.filter((c) => c.topic?.startsWith(`Bench ${run} `));
    const times = ours.map((c) => Date.parse(c.createdDateTime));
    const achievedRate = sustainedRate(times, burstOf(ceiling));
    const { calls, throttled } = graphCallsAndThrottles(trusted.sim);
    const succeeded = states.get('succeeded') ?? 0;
    const failed = states.get('failed') ?? 0;
    const conflictsPerSecond = perSecond(conflicts, startedAtMs);
    const result: P5Result = {
      ceiling,
      hosts: hostCount,
      requests,
      accepted: ids.size,
      achievedRate,
      achievedOverCeiling: ratio(achievedRate, ceiling),
      graphCalls: calls,
      graph429: throttled,
      share429: share(throttled, calls),
      succeeded,
      failed,
      lost: ids.size - succeeded - failed + rejected,
      duplicates: duplicateCount(ours.map((c) => c.topic)),
      timedOut,
      rateRow: {
        writes: writes.length,
        conflicts: conflicts.length,
        conflictsPerSecond: conflicts.length / wallClock,
        maxConflictsInASecond: Math.max(0, ...conflictsPerSecond),
      },
      conflictTimeline: { conflicts: conflictsPerSecond, writes: perSecond(writes, startedAtMs) },
      rateTimeline,
      chatsPerSecond: times.length > 0 ? perSecond(times, Math.min(...times)) : [],
      hostPeakRssMiB,
      cpuSeconds,
    };
    log(
      `    achieved ${achievedRate.toFixed(1)}/s (${(result.achievedOverCeiling * 100).toFixed(1)} % of ${ceiling}/s), ` +
        `${throttled} × 429 of ${calls}, lost ${result.lost}, duplicates ${result.duplicates}, ` +
        `rate row ${writes.length} writes / ${conflicts.length} conflicts, peak RSS ${hostPeakRssMiB.map((m) => m.toFixed(0)).join(' / ')} MiB`,
    );
    return result;
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await trusted.stop();
    await azurite.stop();
  }
}

async function sampleRate(
  work: TableClient,
  startedAtMs: number,
  chats: number,
  throttled: number,
): Promise<RateSample> {
  const now = Date.now();
  const t = Math.round((now - startedAtMs) / 100) / 10;
  let rate: number | null = null;
  let paused = false;
  let liveInstances = 0;
  try {
    const row = await work.getEntity<{ rate: number; pausedUntil: number }>('throttle', 'graph');
    rate = Math.round(Number(row.rate) * 100) / 100;
    paused = Number(row.pausedUntil) > now;
  } catch {
    // not written yet
  }
  try {
    for await (const beat of work.listEntities<{ seenAt: number }>({
      queryOptions: { filter: `PartitionKey eq 'throttle-instances'`, select: ['seenAt'] },
    })) {
      if (Number(beat.seenAt) >= now - 15_000) liveInstances += 1;
    }
  } catch {
    // the table may not exist yet
  }
  return { t, rate, paused, liveInstances, chats, throttled };
}
