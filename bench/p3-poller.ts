import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { request } from 'undici';
import { GRAPH_SCOPE, SdkGraphChats } from '../shared/graph/graph-client';
import { newRequestId } from '../shared/core/ids';
import { newChatRequest } from '../shared/use-cases/intake';
import { silentLogger } from '../shared/platform/log';
import { type ChatRequest, State } from '../shared/core/model';
import { runPollerTick, type TickReport } from '../shared/use-cases/poller';
import { StorageRequestQueue } from '../shared/storage/request-queue';
import { parseProvisioningRequest } from '../shared/core/request/parse';
import { payloadHash } from '../shared/core/request/hash';
import { openRequestTables, TableRequestStore } from '../shared/storage/table-store';
import { aimdSettings } from '../shared/core/rate/aimd';
import { GraphRateGate } from '../shared/core/rate/gate';
import { TableFleetRateStore } from '../shared/storage/fleet-rate-table-store';
import { type CallStats, meteredTable, StorageMeter } from './counting-table';
import { credentialFor } from './graph-baselines';
import { graphCallsAndThrottles } from './p1-bulk';
import { ROOT, startSimulator, startStorage, type SimulatorWithTrust } from './stack';
import { median, ratio } from './stats';
import { compactRequest } from './workload';

/**
 * P3 poller: one timer tick (`runPollerTick`, the function the timer trigger calls) over a table with
 * N finished requests and over an empty one, each holding the same P pending requests whose Graph
 * operations stay `inProgress` (so every tick checks all of them again). Ticks alternate between the
 * two tables; each tick's clock is an hour after the last so every pending request is due.
 * Measured per tick: the TickReport, Graph calls (simulator counters), storage round trips and
 * entities read (metered SDK client under the real TableRequestStore), and wall time.
 */

export interface P3Options {
  history: number;
  pending: number;
  ticks: number;
  log: (line: string) => void;
}

interface TableRun {
  table: string;
  finished: number;
  ticksMs: number[];
  indexRowsRead: number[];
  checked: number[];
  graphCalls: number[];
  entitiesRead: number[];
  queryRows: number[];
  roundTrips: number[];
  /** A bare store.listDue(pending) on the same table (what Azurite spends on one query). */
  listDueMs: number;
  /** Storage calls of the last measured tick, by SDK method. */
  lastTickCalls: Record<string, CallStats>;
}

export interface P3Result {
  history: number;
  pending: number;
  ticks: number;
  seeding: { method: string; seedMs: number; checkedOverHttp: number };
  withHistory: Summary;
  empty: Summary;
  tickTimeRatio: number;
  listDueTimeRatio: number;
}

interface Summary {
  table: string;
  finished: number;
  tickMs: number;
  indexRowsRead: number;
  checked: number;
  graphCalls: number;
  entitiesRead: number;
  queryRows: number;
  roundTrips: number;
  listDueMs: number;
  lastTickCalls: Record<string, CallStats>;
}

interface SeededTables {
  connectionString: string;
  seedMs: number;
  checked: number;
  stop(): Promise<void>;
}

async function startSeededTables(specs: Record<string, number>): Promise<SeededTables> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'seeded-table-server.js'), ...Object.entries(specs).map(([t, n]) => `${t}:${n}`)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const line = await new Promise<string>((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error('seeded table server did not start in 180 s')), 180_000);
    createInterface({ input: child.stdout! }).once('line', (first) => {
      clearTimeout(timer);
      resolveLine(first);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`seeded table server exited (code ${code}): ${stderr.trim()}`));
    });
  });
  const info = JSON.parse(line) as { connectionString: string; seedMs: number; checked: number };
  return {
    ...info,
    stop: async () => {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** P operations that Graph keeps `inProgress` (simulator fate `stall`), and pending requests that follow them. */
async function addPendingRequests(
  trusted: SimulatorWithTrust,
  store: TableRequestStore,
  graph: SdkGraphChats,
  run: string,
  count: number,
): Promise<void> {
  const token = (await credentialFor(trusted).getToken(GRAPH_SCOPE))?.token ?? '';
  for (let i = 0; i < count; i += 1) {
    const body = compactRequest(run, i, { withApp: true });
    const parsed = parseProvisioningRequest(body, new Date());
    if (!parsed.ok) throw new Error('invalid pending request');
    const answer = await request(`${trusted.sim.graphBaseUrl}/v1.0/chats`, {
      method: 'POST',
      dispatcher: trusted.dispatcher,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(parsed.value.graphBody),
    });
    await answer.body.text();
    const location = answer.headers.location;
    if (answer.statusCode !== 202 || typeof location !== 'string') {
      throw new Error(`simulator did not start an operation (HTTP ${answer.statusCode})`);
    }
    const now = new Date();
    const pending: ChatRequest = {
      ...newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now), now),
      state: State.pending,
      attempts: 1,
      operation: {
        location: graph.resolveLocation(location),
        status: 'notStarted',
        checks: 0,
        startedAt: now.toISOString(),
        nextCheckAt: new Date(now.getTime() - 1_000).toISOString(),
      },
    };
    await store.create(pending);
  }
}

function summarize(run: TableRun): Summary {
  return {
    table: run.table,
    finished: run.finished,
    tickMs: median(run.ticksMs),
    indexRowsRead: median(run.indexRowsRead),
    checked: median(run.checked),
    graphCalls: median(run.graphCalls),
    entitiesRead: median(run.entitiesRead),
    queryRows: median(run.queryRows),
    roundTrips: median(run.roundTrips),
    listDueMs: run.listDueMs,
    lastTickCalls: run.lastTickCalls,
  };
}

const LIST_DUE_SAMPLES = 21;

export async function runP3(options: P3Options): Promise<P3Result> {
  const { log } = options;
  const tables = { History: options.history, Empty: 0 };
  log(
    `  P3: seeding ${options.history} finished requests (Azurite TableServer, bulk load; see seeded-table-server.ts)`,
  );
  const seeded = await startSeededTables(tables);
  log(`    seeded in ${(seeded.seedMs / 1000).toFixed(1)} s (${seeded.checked} checked over HTTP)`);
  const azurite = await startStorage();
  const trusted = await startSimulator(10_000);
  try {
    trusted.sim.control.configure({ defaultOperationFate: 'stall' });
    const queueClient = new QueueClient(azurite.connectionString, 'chat-requests');
    await queueClient.createIfNotExists();
    const queue = new StorageRequestQueue(queueClient);
    const credential = credentialFor(trusted);
    const graph = new SdkGraphChats(credential, { baseUrl: trusted.sim.graphBaseUrl, extraCaCerts: trusted.sim.ca });

    const runs: (TableRun & { meter: StorageMeter; store: TableRequestStore; gate: GraphRateGate })[] = [];
    for (const [table, finished] of Object.entries(tables)) {
      // The table and its work table, as the service names and uses them.
      const { table: client, work } = openRequestTables(table, (name) =>
        TableClient.fromConnectionString(seeded.connectionString, name, { allowInsecureConnection: true }),
      );
      await addPendingRequests(trusted, new TableRequestStore(client, work), graph, `p3-${table}`, options.pending);
      const meter = new StorageMeter();
      const [metered, meteredWork] = [meteredTable(client, meter), meteredTable(work, meter)];
      runs.push({
        table,
        finished,
        meter,
        store: new TableRequestStore(metered, meteredWork),
        gate: new GraphRateGate(aimdSettings(1000), new TableFleetRateStore(meteredWork), randomUUID()),
        ticksMs: [],
        indexRowsRead: [],
        checked: [],
        graphCalls: [],
        entitiesRead: [],
        queryRows: [],
        roundTrips: [],
        listDueMs: Number.NaN,
        lastTickCalls: {},
      });
    }

    let clock = Date.now();
    const tick = async (run: (typeof runs)[number], record: boolean): Promise<TickReport> => {
      clock += 3_600_000;
      const at = clock;
      run.meter.reset();
      const graphBefore = graphCallsAndThrottles(trusted.sim).calls;
      const started = performance.now();
      const report = await runPollerTick({
        store: run.store,
        queue,
        graph,
        gate: run.gate,
        deadlineMinutes: 7 * 24 * 60,
        log: silentLogger,
        now: () => new Date(at),
      });
      const ms = performance.now() - started;
      if (record) {
        run.ticksMs.push(ms);
        run.indexRowsRead.push(report.indexRowsRead);
        run.checked.push(report.checked);
        run.graphCalls.push(graphCallsAndThrottles(trusted.sim).calls - graphBefore);
        run.entitiesRead.push(run.meter.entitiesRead);
        run.queryRows.push(run.meter.queryRows);
        run.roundTrips.push(run.meter.roundTrips);
        run.lastTickCalls = run.meter.snapshot().byMethod;
      }
      return report;
    };
    for (let i = 0; i < 2; i += 1) for (const run of runs) await tick(run, false);
    // Alternate which table goes first, so neither always runs right after the other.
    const inTurn = (round: number): typeof runs => (round % 2 === 0 ? runs : [...runs].reverse());
    for (let i = 0; i < options.ticks; i += 1) {
      for (const run of inTurn(i)) await tick(run, true);
    }
    // Alternated like the ticks, so neither table's samples always come first after them. (History still
    // reads 1.5–1.6× slower than none over the same 50 entries, cause not found: bench/README.md.)
    const listDueSamples = new Map(runs.map((run) => [run, [] as number[]]));
    for (let i = 0; i < LIST_DUE_SAMPLES; i += 1) {
      for (const run of inTurn(i)) {
        const started = performance.now();
        await run.store.listDue(State.pending, new Date(clock), 500);
        listDueSamples.get(run)!.push(performance.now() - started);
      }
    }
    for (const [run, samples] of listDueSamples) run.listDueMs = median(samples);
    const [history, empty] = runs.map(summarize) as [Summary, Summary];
    log(
      `    tick with ${options.history} finished: ${history.tickMs.toFixed(1)} ms, ${history.indexRowsRead} index rows, ${history.graphCalls} Graph calls; empty: ${empty.tickMs.toFixed(1)} ms, ${empty.indexRowsRead} index rows, ${empty.graphCalls} Graph calls`,
    );
    return {
      history: options.history,
      pending: options.pending,
      ticks: options.ticks,
      seeding: {
        method: 'TableRequestStore.create + claimKey recorded, bulk-loaded into Azurite (first 3 over HTTP, compared)',
        seedMs: seeded.seedMs,
        checkedOverHttp: seeded.checked,
      },
      withHistory: history,
      empty,
      tickTimeRatio: ratio(history.tickMs, empty.tickMs),
      listDueTimeRatio: ratio(history.listDueMs, empty.listDueMs),
    };
  } finally {
    await trusted.stop();
    await azurite.stop();
    await seeded.stop();
  }
}
