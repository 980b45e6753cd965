import { TableClient, type TransactionAction } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { newRequestId } from '../shared/core/ids';
import { idempotencyKeysOf, newChatRequest, submitRequest } from '../shared/use-cases/intake';
import { silentLogger } from '../shared/platform/log';
import { encodeRequestMessage } from '../shared/core/queue/message';
import { StorageRequestQueue } from '../shared/storage/request-queue';
import { parseProvisioningRequest } from '../shared/core/request/parse';
import { payloadHash } from '../shared/core/request/hash';
import { openRequestTables, TableRequestStore } from '../shared/storage/table-store';
import { meteredQueue, meteredTable, StorageMeter, type CallStats } from './counting-table';
import { type HostProcess, serviceEnv, startHostProcess, startSimulator, startStorage } from './stack';
import { median, percentile, ratio } from './stats';
import { compactRequest } from './workload';

/**
 * P2 intake: the cost of one POST /api/requests against the floor any intake must pay (one table
 * insert + one queue send, done directly with the SDKs on the same Azurite), measured interleaved
 * one at a time so drift on the shared machine hits both alike; and a batch of 1000 against one
 * request. The worker and the timer are disabled so only intake runs. A second, in-process pass runs
 * the same `submitRequest` over metered SDK clients to count its storage round trips.
 */

export interface P2Options {
  singles: number;
  batchRuns: number;
  batchSize: number;
  log: (line: string) => void;
}

export interface P2Result {
  samples: number;
  intakeMs: { median: number; p90: number };
  intakeNoKeyMs: { median: number; p90: number };
  floorMs: { median: number; p90: number };
  /** Where the time goes: the host's own homepage (HTTP only), and a POST rejected by validation (400). */
  decomposition: { hostHomepageMs: number; rejectedPostMs: number };
  intakeOverFloor: number;
  intakeNoKeyOverFloor: number;
  /** submitRequest called in-process (no HTTP, no host) ÷ the floor. */
  inProcess: {
    submitMs: number;
    floorMs: number;
    ratio: number;
    roundTripsPerRequest: number;
    floorRoundTrips: number;
    byMethod: Record<string, CallStats>;
  };
  batch: { size: number; runs: number[]; medianMs: number; perItemMs: number; accepted: number };
  batchOverSingle: number;
  /**
   * The least any batch intake could do on this Azurite (information): the batch's rows in entity group
   * transactions of 100 in one partition and one queue message per 100, with the SDKs directly — no keys,
   * no indexes, no validation. Its median ÷ our single request says whether P2-batch's goal is in reach.
   */
  batchFloor: { runs: number[]; medianMs: number; overSingle: number };
}

const WARMUP = 30;

function summary(values: number[]): { median: number; p90: number } {
  return { median: median(values), p90: percentile(values, 90) };
}

async function timedPost(host: HostProcess, path: string, json: unknown, expect: number): Promise<number> {
  const started = performance.now();
  const answer = await host.api(path, { method: 'POST', json });
  const text = await answer.text();
  const ms = performance.now() - started;
  if (answer.status !== expect) throw new Error(`POST ${path}: HTTP ${answer.status} ${text.slice(0, 300)}`);
  return ms;
}

/** Bench request `index` of `run` as the service would store it: a new id and its request document. */
function storedDocument(run: string, index: number, now: Date): { id: string; doc: string } {
  const parsed = parseProvisioningRequest(compactRequest(run, index), now);
  if (!parsed.ok) throw new Error('invalid bench request');
  const id = newRequestId(now);
  return { id, doc: JSON.stringify(newChatRequest(parsed.value, payloadHash(parsed.value), id, now)) };
}

/** What a minimal intake must do: record the request (a row of the same size) and send its message. */
function floorWork(table: TableClient, queue: QueueClient, run: string, index: number): () => Promise<void> {
  const now = new Date();
  const { id, doc } = storedDocument(run, index, now);
  return async () => {
    await table.createEntity({
      partitionKey: id,
      rowKey: 'request',
      state: 'queued',
      updatedAt: now.toISOString(),
      chunks: 1,
      doc0: doc,
    });
    await queue.sendMessage(encodeRequestMessage({ id, attempt: 0 }), { messageTimeToLive: -1 });
  };
}

/** The batch floor (see P2Result.batchFloor): `size` rows in transactions of 100, a message per 100. */
async function timeBatchFloor(
  table: TableClient,
  queue: QueueClient,
  run: string,
  first: number,
  size: number,
): Promise<number> {
  const rows = Array.from({ length: size }, (_, i) => storedDocument(run, first + i, new Date()));
  const partitionKey = `batch-${first}`;
  const started = performance.now();
  const chunks: Promise<unknown>[] = [];
  for (let i = 0; i < rows.length; i += 100) {
    const chunk = rows.slice(i, i + 100);
    const actions: TransactionAction[] = chunk.map((r) => [
      'create',
      { partitionKey, rowKey: r.id, state: 'queued', chunks: 1, doc0: r.doc },
    ]);
    const ids = Buffer.from(JSON.stringify(chunk.map((r) => r.id))).toString('base64');
    chunks.push(table.submitTransaction(actions).then(() => queue.sendMessage(ids, { messageTimeToLive: -1 })));
  }
  await Promise.all(chunks);
  return performance.now() - started;
}

async function timeFloor(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export async function runP2(options: P2Options): Promise<P2Result> {
  const { log } = options;
  const run = `p2-${Date.now().toString(36)}`;
  const azurite = await startStorage();
  const trusted = await startSimulator(1000);
  let host: HostProcess | undefined;
  try {
    host = await startHostProcess(
      serviceEnv(azurite, trusted, { 'AzureWebJobs.worker.Disabled': 'true', 'AzureWebJobs.poller.Disabled': 'true' }),
    );
    const floorTable = TableClient.fromConnectionString(azurite.connectionString, 'BenchFloor', {
      allowInsecureConnection: true,
    });
    const floorQueue = new QueueClient(azurite.connectionString, 'bench-floor');
    await floorTable.createTable();
    await floorQueue.createIfNotExists();

    let index = 0;
    const keyed = (): unknown => compactRequest(run, index++);
    const unkeyed = (): unknown => {
      const { externalId: _ignored, ...rest } = compactRequest(run, index++);
      return rest;
    };
    for (let i = 0; i < WARMUP; i += 1) {
      await timedPost(host, '/api/requests', keyed(), 202);
      await timeFloor(floorWork(floorTable, floorQueue, run, index++));
    }

    // Interleaved, one at a time: intake (with externalId), floor, intake without a key.
    const intake: number[] = [];
    const intakeNoKey: number[] = [];
    const floor: number[] = [];
    const homepage: number[] = [];
    const rejected: number[] = [];
    const invalid = (): unknown => ({ ...compactRequest(run, index++), members: ['only-one@contoso.com'] });
    for (let i = 0; i < options.singles; i += 1) {
      intake.push(await timedPost(host, '/api/requests', keyed(), 202));
      floor.push(await timeFloor(floorWork(floorTable, floorQueue, run, index++)));
      intakeNoKey.push(await timedPost(host, '/api/requests', unkeyed(), 202));
      const started = performance.now();
      await (await host.api('/')).arrayBuffer();
      homepage.push(performance.now() - started);
      rejected.push(await timedPost(host, '/api/requests', invalid(), 400));
    }
    log(
      `  P2 single: intake ${median(intake).toFixed(2)} ms, without key ${median(intakeNoKey).toFixed(2)} ms, floor ${median(floor).toFixed(2)} ms (medians of ${options.singles})`,
    );

    const batchRuns: number[] = [];
    let accepted = 0;
    for (let r = 0; r < options.batchRuns; r += 1) {
      const requests = Array.from({ length: options.batchSize }, () => keyed());
      const started = performance.now();
      const answer = await host.api('/api/requests/batch', { method: 'POST', json: { requests } });
      const body = (await answer.json()) as { accepted?: number };
      batchRuns.push(performance.now() - started);
      if (answer.status !== 200) throw new Error(`batch: HTTP ${answer.status}`);
      accepted += body.accepted ?? 0;
    }
    log(`  P2 batch of ${options.batchSize}: ${batchRuns.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`);
    const batchFloorRuns: number[] = [];
    for (let r = 0; r < Math.max(3, options.batchRuns); r += 1) {
      batchFloorRuns.push(await timeBatchFloor(floorTable, floorQueue, run, index, options.batchSize));
      index += options.batchSize;
    }
    log(
      `  P2 batch floor (transactions of 100, a message per 100): ${batchFloorRuns.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`,
    );
    await host.stop();
    host = undefined;

    // In-process: the same submitRequest over metered clients (same Azurite, no HTTP, no host).
    const meter = new StorageMeter();
    const { table, work } = openRequestTables('ChatRequests', (name) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
    );
    const queue = new QueueClient(azurite.connectionString, 'chat-requests');
    const deps = {
      store: new TableRequestStore(meteredTable(table, meter), meteredTable(work, meter)),
      queue: new StorageRequestQueue(meteredQueue(queue, meter)),
      log: silentLogger,
    };
    const submitOne = async (): Promise<number> => {
      const parsed = parseProvisioningRequest(compactRequest(run, index++), new Date());
      if (!parsed.ok) throw new Error('invalid bench request');
      const started = performance.now();
      await submitRequest(parsed.value, payloadHash(parsed.value), idempotencyKeysOf(parsed.value, {}), deps);
      return performance.now() - started;
    };
    for (let i = 0; i < 10; i += 1) await submitOne();
    meter.reset();
    const inProcessSubmit: number[] = [];
    const inProcessFloor: number[] = [];
    const passes = Math.max(20, Math.floor(options.singles / 2));
    for (let i = 0; i < passes; i += 1) {
      inProcessSubmit.push(await submitOne());
      inProcessFloor.push(await timeFloor(floorWork(floorTable, floorQueue, run, index++)));
    }
    const metered = meter.snapshot();
    log(
      `  P2 in-process submitRequest: ${median(inProcessSubmit).toFixed(2)} ms, ${(metered.roundTrips / passes).toFixed(1)} storage round trips per request (floor: 2)`,
    );

    const single = median(intake);
    return {
      samples: options.singles,
      intakeMs: summary(intake),
      intakeNoKeyMs: summary(intakeNoKey),
      floorMs: summary(floor),
      decomposition: { hostHomepageMs: median(homepage), rejectedPostMs: median(rejected) },
      intakeOverFloor: ratio(single, median(floor)),
      intakeNoKeyOverFloor: ratio(median(intakeNoKey), median(floor)),
      inProcess: {
        submitMs: median(inProcessSubmit),
        floorMs: median(inProcessFloor),
        ratio: ratio(median(inProcessSubmit), median(inProcessFloor)),
        roundTripsPerRequest: metered.roundTrips / passes,
        floorRoundTrips: 2,
        byMethod: Object.fromEntries(
          Object.entries(metered.byMethod).map(([k, v]) => [k, { calls: v.calls / passes, ms: v.ms / passes }]),
        ),
      },
      batch: {
        size: options.batchSize,
        runs: batchRuns,
        medianMs: median(batchRuns),
        perItemMs: median(batchRuns) / options.batchSize,
        accepted,
      },
      batchOverSingle: ratio(median(batchRuns), single),
      batchFloor: {
        runs: batchFloorRuns,
        medianMs: median(batchFloorRuns),
        overSingle: ratio(median(batchFloorRuns), single),
      },
    };
  } finally {
    await host?.stop();
    await trusted.stop();
    await azurite.stop();
  }
}
