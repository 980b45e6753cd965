import { TableClient } from '@azure/data-tables';
import { Agent } from 'undici';
import type { GraphSimulator } from '../dev/simulator';
import { burstOf } from '../dev/simulator/throttle';
import { runFanOutClient, runSerialClient, type ClientRun } from './graph-baselines';
import {
  type HostProcess,
  serviceEnv,
  childPids,
  cpuSecondsOf,
  sleep,
  startHostProcess,
  startSimulator,
  startStorage,
  type SimulatorWithTrust,
} from './stack';
import { duplicateCount, ratio, share, sustainedRate } from './stats';
import { compactRequest, graphBodyOf } from './workload';
import { State } from '../shared/core/model';
import { openRequestTables, placeOf } from '../shared/storage/table-store';

/**
 * P1 bulk: N requests through POST /api/requests/batch → queue → worker → Graph, against a simulator
 * whose tenant ceiling the service is not told (GRAPH_MAX_RPS stays at 1000 for every ceiling: the
 * AIMD limiter in shared/core/rate/ has to find it). Then, on the same simulator, the two baselines.
 */

export interface P1Options {
  ceiling: number;
  requests: number;
  /** Latency the simulator adds to every Graph call (service and baselines alike). */
  graphLatencyMs: number;
  serialMs: number;
  fanOutRequests: number;
  /** Extra node flags for the host process, e.g. ['--cpu-prof', '--cpu-prof-dir=…'] (--profile-host). */
  hostNodeArgs?: string[];
  log: (line: string) => void;
}

export interface P1Result {
  ceiling: number;
  graphLatencyMs: number;
  requests: number;
  accepted: number;
  submitMs: number;
  /** Chats per second over the whole run, the bucket's initial burst not counted (see sustainedRate). */
  achievedRate: number;
  /** That burst: chats not counted in achievedRate. */
  burstExcluded: number;
  achievedOverCeiling: number;
  /** Chats per second from the first batch sent to the last chat made. */
  endToEndRate: number;
  graphCalls: number;
  graph429: number;
  share429: number;
  succeeded: number;
  failed: number;
  notFinal: number;
  lost: number;
  duplicates: number;
  chatsCreated: number;
  /** The host process's peak RSS (VmHWM), MiB. */
  hostPeakRssMiB: number;
  timedOut: boolean;
  /** CPU seconds used from the first batch to the last final state, per process (2 shared cores). */
  cpuSeconds: { host: number; azurite: number; benchAndSimulator: number; wallClock: number };
  /** Chats made and 429s answered in each second from the first chat (for results.json). */
  timeline: { chats: number[]; throttled: number[] };
  serial: ClientRun;
  fanOut: ClientRun & { share429: number };
  usOverSerial: number;
}

const BATCH_SIZE = 1000;
/** Past its deadline P1 stops waiting once no chat has been made for this long. */
const STALL_MS = 60_000;

function isGraphRoute(route: string): boolean {
  return /^[A-Z]+ \/(v1\.0|beta)\//.test(route);
}

export function graphCallsAndThrottles(sim: GraphSimulator): { calls: number; throttled: number } {
  const stats = sim.control.stats();
  let calls = 0;
  let throttled = 0;
  for (const [route, byStatus] of Object.entries(stats.requests.byRoute)) {
    if (!isGraphRoute(route)) continue;
    for (const [status, count] of Object.entries(byStatus)) {
      calls += count;
      if (status === '429') throttled += count;
    }
  }
  return { calls, throttled };
}

export function applyLatency(trusted: SimulatorWithTrust, latencyMs: number): void {
  // Chaos 'delay' at rate 1 holds every Graph call (not Entra, not /_sim) for latencyMs, then answers normally.
  if (latencyMs > 0) trusted.sim.control.setChaos({ rate: 1, kinds: ['delay'], delayMs: latencyMs, seed: 1 });
}

/** How many of `ids` are in each state, from the request rows of both tables (the newest copy of each). */
export async function countStates(connectionString: string, ids: ReadonlySet<string>): Promise<Map<string, number>> {
  const newest = new Map<string, { rev: number; state: string }>();
  const { table, work } = openRequestTables('ChatRequests', (name) =>
    TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true }),
  );
  const places = [placeOf(State.queued), placeOf(State.succeeded), placeOf(State.failed)];
  for (const client of [table, work]) {
    for await (const entity of client.listEntities<{ requestId: string; state: string; rev: number }>({
      queryOptions: {
        filter: places.map((p) => `PartitionKey eq '${p}'`).join(' or '),
        select: ['requestId', 'state', 'rev'],
      },
    })) {
      if (!ids.has(entity.requestId)) continue;
      const seen = newest.get(entity.requestId);
      if (!seen || entity.rev > seen.rev) newest.set(entity.requestId, { rev: entity.rev, state: entity.state });
    }
  }
  const counts = new Map<string, number>();
  for (const { state } of newest.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
  return counts;
}

async function submitAll(
  host: HostProcess,
  run: string,
  count: number,
  log: (line: string) => void,
): Promise<{ ids: Set<string>; rejected: number }> {
  const ids = new Set<string>();
  let rejected = 0;
  for (let start = 0; start < count; start += BATCH_SIZE) {
    const items = Array.from({ length: Math.min(BATCH_SIZE, count - start) }, (_, i) => compactRequest(run, start + i));
    const answer = await host.api('/api/requests/batch', { method: 'POST', json: { requests: items } });
    if (answer.status !== 200) {
      log(`    batch at ${start}: HTTP ${answer.status} ${(await answer.text()).slice(0, 300)}`);
      rejected += items.length;
      continue;
    }
    const body = (await answer.json()) as { results: { status: string; id?: string }[] };
    for (const result of body.results) {
      if (result.id && result.status !== 'rejected') ids.add(result.id);
      else rejected += 1;
    }
  }
  return { ids, rejected };
}

export function perSecond(timesMs: readonly number[], startMs: number): number[] {
  const buckets: number[] = [];
  for (const t of timesMs) {
    const second = Math.max(0, Math.floor((t - startMs) / 1000));
    while (buckets.length <= second) buckets.push(0);
    buckets[second] = (buckets[second] ?? 0) + 1;
  }
  return buckets;
}

export async function runP1(options: P1Options): Promise<P1Result> {
  const { ceiling, requests, log } = options;
  const run = `p1-${ceiling}-${Date.now().toString(36)}`;
  const azurite = await startStorage();
  const trusted = await startSimulator(ceiling);
  let host: HostProcess | undefined;
  try {
    applyLatency(trusted, options.graphLatencyMs);
    const env = serviceEnv(azurite, trusted, { GRAPH_MAX_RPS: '1000' });
    host = await startHostProcess(env, options.hostNodeArgs);
    log(
      `  P1 @ ${ceiling}/s: host pid ${host.pid} on ${host.url}; submitting ${requests} requests in batches of ${BATCH_SIZE}`,
    );

    const azuritePid = childPids('azurite')[0];
    const cpuAtStart = {
      host: cpuSecondsOf(host.pid),
      azurite: cpuSecondsOf(azuritePid),
      bench: process.cpuUsage(),
    };
    const started = performance.now();
    const startedAtMs = Date.now();
    const { ids, rejected } = await submitAll(host, run, requests, log);
    const submitMs = performance.now() - started;
    log(`    accepted ${ids.size}, rejected ${rejected}, in ${(submitMs / 1000).toFixed(1)} s`);

    // Bounded wait, sampling memory on the way: four times the ideal duration plus a minute, then on while
    // chats keep coming (a pipeline slower than the ceiling is slow, not lossy), never past ten times that.
    const patience = (4 * ids.size * 1000) / ceiling + 60_000;
    const deadline = performance.now() + patience;
    const hardDeadline = performance.now() + 10 * patience;
    let lastLog = performance.now();
    let timedOut = false;
    let progress = { chats: 0, at: performance.now() };
    for (;;) {
      // One read of the simulator's counters per round (it clones them, in this process, beside the work).
      const made = trusted.sim.control.stats().chatsCreated;
      if (made >= ids.size) break;
      host.peakRssKiB();
      if (made > progress.chats) progress = { chats: made, at: performance.now() };
      const stalled = performance.now() - progress.at > STALL_MS;
      if (performance.now() > hardDeadline || (performance.now() > deadline && stalled)) {
        timedOut = true;
        break;
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const { calls, throttled } = graphCallsAndThrottles(trusted.sim);
        log(`    ${made}/${ids.size} chats, ${calls} Graph calls, ${throttled} × 429`);
      }
      await sleep(250);
    }

    // Final states, read from the table; a short bounded wait for the last writes after the last chat.
    let states = await countStates(azurite.connectionString, ids);
    const finalDeadline = performance.now() + (timedOut ? 5_000 : 30_000);
    const finalCount = (): number => (states.get('succeeded') ?? 0) + (states.get('failed') ?? 0);
    while (finalCount() < ids.size && performance.now() < finalDeadline) {
      host.peakRssKiB();
      await sleep(1_000);
      states = await countStates(azurite.connectionString, ids);
    }
    const peakKiB = host.peakRssKiB();
    const benchCpu = process.cpuUsage(cpuAtStart.bench);
    const cpuSeconds = {
      host: cpuSecondsOf(host.pid) - cpuAtStart.host,
      azurite: cpuSecondsOf(azuritePid) - cpuAtStart.azurite,
      benchAndSimulator: (benchCpu.user + benchCpu.system) / 1e6,
      wallClock: (performance.now() - started) / 1000,
    };
    log(
      `    CPU s over ${cpuSeconds.wallClock.toFixed(1)} s: host ${cpuSeconds.host.toFixed(1)}, Azurite ${cpuSeconds.azurite.toFixed(1)}, bench+simulator ${cpuSeconds.benchAndSimulator.toFixed(1)}`,
    );
    await host.stop();
    host = undefined;

    const chats = trusted.sim.control.chats().chats;
    const ours = chats.filter((c) => c.topic?.startsWith(`Bench ${run} `));
    const times = ours.map((c) => Date.parse(c.createdDateTime));
    const lastChatMs = times.length > 0 ? Math.max(...times) : Number.NaN;
    const { calls, throttled } = graphCallsAndThrottles(trusted.sim);
    const throttledTimes = trusted.sim.control
      .requests()
      .filter((r) => r.status === 429)
      .map((r) => Date.parse(r.time));
    // The simulator's bucket starts full: those chats need no sustained rate.
    const burst = burstOf(ceiling);
    const achievedRate = sustainedRate(times, burst);
    const timeline = {
      chats: perSecond(times, Math.min(...times)),
      throttled: perSecond(throttledTimes, Math.min(...times)),
    };
    const succeeded = states.get('succeeded') ?? 0;
    const failed = states.get('failed') ?? 0;
    const notFinal = ids.size - succeeded - failed;

    // Baselines on the same simulator, same latency, a fresh bucket each.
    const baselineBodies = (name: string, count: number) =>
      Array.from({ length: count }, (_, i) => graphBodyOf(compactRequest(`${run}-${name}`, i)));
    trusted.sim.control.reset();
    applyLatency(trusted, options.graphLatencyMs);
    await sleep(1_100);
    const serial = await runSerialClient(trusted, baselineBodies('serial', 100_000), options.serialMs);
    log(
      `    serial client: ${serial.created} chats in ${(serial.elapsedMs / 1000).toFixed(1)} s = ${serial.rate.toFixed(1)}/s`,
    );
    trusted.sim.control.reset();
    applyLatency(trusted, options.graphLatencyMs);
    await sleep(1_100);
    // More requests than the bucket's burst (= one second of the ceiling), or nothing is ever throttled.
    const fanOutRequests = Math.max(options.fanOutRequests, 3 * ceiling);
    const fanOutDispatcher = new Agent({ connect: { ca: trusted.sim.ca }, connections: 256 });
    let fanOut: ClientRun;
    try {
      fanOut = await runFanOutClient(
        trusted,
        baselineBodies('fanout', fanOutRequests),
        Math.max(30_000, (4 * fanOutRequests * 1000) / ceiling),
        fanOutDispatcher,
      );
    } finally {
      await fanOutDispatcher.close();
    }
    log(`    fan-out client: ${fanOut.created} chats, ${fanOut.throttled} × 429 of ${fanOut.calls} calls`);

    return {
      ceiling,
      graphLatencyMs: options.graphLatencyMs,
      requests,
      accepted: ids.size,
      submitMs,
      achievedRate,
      burstExcluded: burst,
      achievedOverCeiling: ratio(achievedRate, ceiling),
      endToEndRate: ratio(ours.length, (lastChatMs - startedAtMs) / 1000),
      graphCalls: calls,
      graph429: throttled,
      share429: share(throttled, calls),
      succeeded,
      failed,
      notFinal,
      lost: notFinal,
      duplicates: duplicateCount(ours.map((c) => c.topic)),
      chatsCreated: ours.length,
      hostPeakRssMiB: peakKiB / 1024,
      timedOut,
      cpuSeconds,
      timeline,
      serial,
      fanOut: { ...fanOut, share429: share(fanOut.throttled, fanOut.calls) },
      usOverSerial: ratio(achievedRate, serial.rate),
    };
  } finally {
    await host?.stop();
    await trusted.stop();
    await azurite.stop();
  }
}
