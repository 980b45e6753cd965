import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { SdkGraphChats } from '../shared/graph/graph-client';
import { type BatchItem, idempotencyKeysOf, submitBatch, submitRequest } from '../shared/use-cases/intake';
import { silentLogger } from '../shared/platform/log';
import { isFinal, State } from '../shared/core/model';
import { runPollerTick } from '../shared/use-cases/poller';
import { StorageRequestQueue } from '../shared/storage/request-queue';
import { parseProvisioningRequest } from '../shared/core/request/parse';
import { payloadHash } from '../shared/core/request/hash';
import { openRequestTables, TableRequestStore } from '../shared/storage/table-store';
import { aimdSettings } from '../shared/core/rate/aimd';
import { GraphRateGate } from '../shared/core/rate/gate';
import { TableFleetRateStore } from '../shared/storage/fleet-rate-table-store';
import { processRequestMessage } from '../shared/use-cases/worker';
import { type CallStats, meteredQueue, meteredTable, StorageMeter } from './counting-table';
import { credentialFor } from './graph-baselines';
import { startSimulator, startStorage } from './stack';
import { compactRequest } from './workload';

/**
 * Storage round trips per request, by stage (information + two goals): every table call (point read,
 * insert, upsert, update, delete, entity group transaction, query page) and every queue call, counted by
 * the metered SDK clients under the service's real adapters, on one Azurite and the simulator, one
 * request at a time so nothing is shared:
 *
 * - intake: `submitRequest` (and `submitBatch` of `batchSize` items, per item): keys, message, row (and
 *   whatever it leaves running in the background, which `measure` waits for);
 * - worker: what the Functions host does for the message (one receive, one delete: counted here as the
 *   host would do them alone; under load one receive serves up to 16 messages) plus
 *   `processRequestMessage`. The rate gate's calls (the fleet row about once a second per busy instance,
 *   a heartbeat every 5 s, about one a second while Graph accepts its calls) are shared by every request of an instance and counted apart;
 * - poller: for a `202` chat, each timer tick until the request is final, minus an empty tick's calls
 *   (the tick's five listing queries are paid once per tick, whatever it finds).
 */

export interface StageCounts {
  intake: number;
  worker: number;
  poller: number;
  total: number;
  byStage: Record<'intake' | 'worker' | 'poller', Record<string, CallStats>>;
}

export interface StorageCallsResult {
  chat201: StageCounts;
  chat202: StageCounts & { ticks: number };
  batchItem: StageCounts & { batchSize: number };
  /** Calls of one tick that finds nothing due (paid every tick, shared by what it finds). */
  emptyTick: number;
  /** The rate gate's calls during the worker stages (shared per instance, not per request). */
  gateCalls: number;
}

export interface StorageCallsOptions {
  batchSize: number;
  log: (line: string) => void;
}

const MAX_TICKS = 10;

export async function runStorageCalls(options: StorageCallsOptions): Promise<StorageCallsResult> {
  const { log } = options;
  const azurite = await startStorage();
  const trusted = await startSimulator(10_000);
  try {
    const meter = new StorageMeter();
    const { table, work } = openRequestTables('ChatRequests', (name) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
    );
    await Promise.all([table.createTable(), work.createTable()]);
    const queueClient = new QueueClient(azurite.connectionString, 'chat-requests');
    await queueClient.createIfNotExists();
    const hostQueue = meteredQueue(queueClient, meter);
    const store = new TableRequestStore(meteredTable(table, meter), meteredTable(work, meter));
    const queue = new StorageRequestQueue(hostQueue);
    const gateMeter = new StorageMeter();
    const gate = new GraphRateGate(
      aimdSettings(1000),
      new TableFleetRateStore(meteredTable(work, gateMeter)),
      randomUUID(),
    );
    const graph = new SdkGraphChats(credentialFor(trusted), {
      baseUrl: trusted.sim.graphBaseUrl,
      extraCaCerts: trusted.sim.ca,
    });
    const run = `calls-${Date.now().toString(36)}`;
    let index = 0;
    const parse = (withApp = false) => {
      const parsed = parseProvisioningRequest(compactRequest(run, index++, { withApp }), new Date());
      if (!parsed.ok) throw new Error('invalid bench request');
      return parsed.value;
    };

    /** Calls made by `work` (and anything it left running), by method. */
    const measure = async (work: () => Promise<void>): Promise<Record<string, CallStats>> => {
      await meter.idle();
      meter.reset();
      await work();
      await meter.idle();
      return meter.snapshot().byMethod;
    };
    const count = (calls: Record<string, CallStats>): number =>
      Object.values(calls).reduce((sum, s) => sum + s.calls, 0);

    /** The host's part and the worker's, for the one message in the queue. */
    const workOne = async (): Promise<string> => {
      const { receivedMessageItems: items } = await hostQueue.receiveMessages({
        numberOfMessages: 1,
        visibilityTimeout: 600,
      });
      const item = items[0];
      if (!item) throw new Error('storage calls: no message in the queue');
      const body = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as unknown;
      const result = await processRequestMessage(body, {
        store,
        queue,
        graph,
        gate,
        graceMinutes: 0,
        log: silentLogger,
      });
      await hostQueue.deleteMessage(item.messageId, item.popReceipt);
      return result;
    };

    const submitOne = async (withApp: boolean): Promise<string> => {
      const parsed = parse(withApp);
      const result = await submitRequest(parsed, payloadHash(parsed), idempotencyKeysOf(parsed, {}), {
        store,
        queue,
        log: silentLogger,
      });
      if (result.kind !== 'created') throw new Error(`storage calls: intake answered ${result.kind}`);
      return result.request.id;
    };

    // Warm-up: tables, token, connections (one request through every stage).
    await submitOne(false);
    await workOne();

    const tick = (now: Date) =>
      runPollerTick({ store, queue, graph, deadlineMinutes: 24 * 60, log: silentLogger, now: () => now });
    let clock = Date.now();
    const emptyTickCalls = count(
      await measure(async () => {
        await tick(new Date((clock += 60_000)));
      }),
    );

    /** The worker's part, which must end as `want` says. */
    const workAs = (want: string, what: string) =>
      measure(async () => {
        const result = await workOne();
        if (result !== want) throw new Error(`storage calls: the worker said ${result} for ${what}`);
      });

    // A 201 chat.
    const intake201 = await measure(async () => void (await submitOne(false)));
    const worker201 = await workAs('succeeded', 'a 201 chat');

    // A 202 chat: the worker leaves it pending, the timer finishes it.
    let id202 = '';
    const intake202 = await measure(async () => void (id202 = await submitOne(true)));
    const worker202 = await workAs('pending', 'a 202 chat');
    const poller202: Record<string, CallStats> = {};
    let ticks = 0;
    let polled = 0;
    for (; ticks < MAX_TICKS;) {
      ticks += 1;
      const calls = await measure(async () => {
        await tick(new Date((clock += 60_000)));
      });
      polled += count(calls) - emptyTickCalls;
      for (const [k, v] of Object.entries(calls)) {
        const sum = poller202[k] ?? { calls: 0, ms: 0 };
        poller202[k] = { calls: sum.calls + v.calls, ms: sum.ms + v.ms };
      }
      const stored = await new TableRequestStore(table, work).get(id202);
      if (stored && isFinal(stored.value.state)) break;
    }
    const final202 = await new TableRequestStore(table, work).get(id202);
    if (final202?.value.state !== State.succeeded) {
      throw new Error(`storage calls: the 202 chat is ${final202?.value.state} after ${ticks} ticks`);
    }

    // A batch: intake per item, and one item's worker.
    const items: BatchItem[] = Array.from({ length: options.batchSize }, (_, i) => {
      const parsed = parse(false);
      return { index: i, parsed, hash: payloadHash(parsed), keys: idempotencyKeysOf(parsed, {}) };
    });
    const intakeBatch = await measure(async () => {
      const { results } = await submitBatch(items, { store, queue, log: silentLogger });
      const accepted = results.filter((r) => r.status === 'accepted').length;
      if (accepted !== items.length) throw new Error(`storage calls: batch accepted ${accepted} of ${items.length}`);
    });
    const workerBatch = await workAs('succeeded', 'a batch item');

    const stage = (
      intake: Record<string, CallStats>,
      worker: Record<string, CallStats>,
      poller: Record<string, CallStats>,
      intakeShare = 1,
      pollerCount?: number,
    ): StageCounts => {
      const perItem = Object.fromEntries(
        Object.entries(intake).map(([k, v]) => [k, { calls: v.calls / intakeShare, ms: v.ms / intakeShare }]),
      );
      const i = count(intake) / intakeShare;
      const w = count(worker);
      const p = pollerCount ?? count(poller);
      return { intake: i, worker: w, poller: p, total: i + w + p, byStage: { intake: perItem, worker, poller } };
    };
    const result: StorageCallsResult = {
      chat201: stage(intake201, worker201, {}),
      chat202: { ...stage(intake202, worker202, poller202, 1, polled), ticks },
      batchItem: { ...stage(intakeBatch, workerBatch, {}, options.batchSize), batchSize: options.batchSize },
      emptyTick: emptyTickCalls,
      gateCalls: gateMeter.roundTrips,
    };
    for (const [name, c] of [
      ['201 chat', result.chat201],
      ['202 chat', result.chat202],
      [`batch item (of ${options.batchSize})`, result.batchItem],
    ] as const) {
      log(
        `  storage calls, ${name}: intake ${c.intake.toFixed(2)}, worker ${c.worker}, poller ${c.poller} = ${c.total.toFixed(2)}`,
      );
    }
    return result;
  } finally {
    await trusted.stop();
    await azurite.stop();
  }
}
