/**
 * `node dist/bench/seeded-table-server.js <table>:<finished requests> ...`: Azurite's own Table
 * service (the `TableServer` class its CLI runs; in-memory persistence, telemetry off, 127.0.0.1 and a
 * free port), with tables (each with its work table) that already hold N finished requests, for P3.
 * Prints one JSON line `{url, seeded, seedMs, checked}` and runs until its stdin closes (the bench ends it).
 *
 * Why not seed over HTTP: Azurite checks an insert's key with a LokiJS lookup indexed on PartitionKey
 * only, so each insert scans its partition. The partition of finished requests ("state-succeeded")
 * holds one row per request, so 100,000 requests cost ~10^10 comparisons (measured: 843 upserts/s at
 * 5,000 entries, 243/s at 20,000) — most of an hour. Instead the real TableRequestStore writes every
 * request (create + claimKey) to a recording client, and the recorded entities are converted to
 * Azurite's stored form and inserted in bulk into Azurite's collection. Before that, the first
 * requests go over HTTP through the same store, and their stored documents must equal the converted
 * ones (keys, properties, types), so the bulk rows are exactly what the service would have written.
 */
import { TableClient } from '@azure/data-tables';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionStringFor, devStoreAccount } from '../dev/azurite';
import { TABLE_NAME } from '../shared/platform/config';
import { newRequestId } from '../shared/core/ids';
import { newChatRequest } from '../shared/use-cases/intake';
import { type ChatRequest, State } from '../shared/core/model';
import { parseProvisioningRequest } from '../shared/core/request/parse';
import { payloadHash } from '../shared/core/request/hash';
import { openRequestTables, TableRequestStore } from '../shared/storage/table-store';
import { compactRequest } from './workload';

/* eslint-disable @typescript-eslint/no-require-imports -- Azurite's server classes ship without typings. */
interface LokiCollection {
  data: Record<string, unknown>[];
  adaptiveBinaryIndices: boolean;
  insert(docs: Record<string, unknown>[]): void;
  ensureAllIndexes(force: boolean): void;
  find(query: Record<string, unknown>): Record<string, unknown>[];
}
interface AzuriteTableServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
  metadataStore: { db: { getCollection(name: string): LokiCollection | null } };
}
const { default: TableServer } = require('azurite/dist/src/table/TableServer') as {
  default: new (configuration: unknown) => AzuriteTableServer;
};
const { default: TableConfiguration } = require('azurite/dist/src/table/TableConfiguration') as {
  default: new (...args: unknown[]) => unknown;
};
const { AzuriteTelemetryClient } = require('azurite/dist/src/common/Telemetry') as {
  AzuriteTelemetryClient: { init(location: string, enableTelemetry: boolean, env: unknown): void };
};
/* eslint-enable @typescript-eslint/no-require-imports */

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

/** A TableClient stand-in that records what the store writes and answers like a fresh table. */
class RecordingTable {
  readonly written: Entity[] = [];
  async createEntity(entity: Entity): Promise<{ etag: string }> {
    this.written.push(entity);
    return { etag: 'seed' };
  }
  async upsertEntity(entity: Entity): Promise<{ etag: string }> {
    this.written.push(entity);
    return { etag: 'seed' };
  }
  async submitTransaction(actions: [string, Entity, ...unknown[]][]): Promise<void> {
    for (const [, entity] of actions) this.written.push(entity);
  }
}

/** A request that went all the way: created an hour or more ago, chat made on the first attempt. */
export function finishedRequest(run: string, index: number, now: number): ChatRequest {
  const body = compactRequest(run, index);
  const parsed = parseProvisioningRequest(body, new Date(now));
  if (!parsed.ok) throw new Error('invalid seed request');
  const createdAt = new Date(now - 3_600_000 - index * 10);
  const request = newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(createdAt), createdAt);
  const doneAt = new Date(createdAt.getTime() + 1_500).toISOString();
  return {
    ...request,
    state: State.succeeded,
    attempts: 1,
    updatedAt: doneAt,
    chat: {
      id: `19:${index.toString(16).padStart(32, '0')}@thread.v2`,
      webUrl: `https://teams.microsoft.com/l/chat/19%3A${index}%40thread.v2/0`,
      createdDateTime: doneAt,
    },
  };
}

async function writeThroughStore(store: TableRequestStore, request: ChatRequest): Promise<void> {
  await store.create(request);
  if (request.externalId) {
    await store.claimKey(`externalId\n${request.externalId}`, {
      requestId: request.id,
      payloadHash: request.payloadHash,
    });
  }
}

/** Azurite's stored form of an entity the SDK would send (what its insert handler keeps). */
function azuriteDocument(entity: Entity, timestamp: string): Record<string, unknown> {
  const { partitionKey, rowKey, ...rest } = entity;
  const properties: Record<string, unknown> = { PartitionKey: partitionKey, RowKey: rowKey };
  for (const [name, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (typeof value === 'number' && !Number.isInteger(value)) {
      properties[name] = value;
      properties[`${name}@odata.type`] = 'Edm.Double';
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      properties[name] = value;
    } else {
      throw new Error(`seeding does not know how Azurite stores ${typeof value} property "${name}"`);
    }
  }
  properties.Timestamp = timestamp;
  properties['Timestamp@odata.type'] = 'Edm.DateTime';
  return {
    PartitionKey: partitionKey,
    RowKey: rowKey,
    properties,
    lastModifiedTime: timestamp,
    eTag: `W/"datetime'${encodeURIComponent(timestamp)}'"`,
  };
}

/** Azurite writes 7 fractional digits. */
function azuriteTimestamp(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function comparable(doc: Record<string, unknown>): unknown {
  const properties = { ...(doc.properties as Record<string, unknown>) };
  delete properties.Timestamp;
  return { PartitionKey: doc.PartitionKey, RowKey: doc.RowKey, properties };
}

const HTTP_CHECKED = 3;
const TABLES = ['table', 'work'] as const;
type Which = (typeof TABLES)[number];

/** Seeds `<table>` and its work table, as the service names them, through a store on both. */
async function seedTable(
  server: AzuriteTableServer,
  connectionString: string,
  table: string,
  count: number,
): Promise<{ seeded: number; checked: number }> {
  const clients = openRequestTables(table, (name) =>
    TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true }),
  );
  await Promise.all(TABLES.map((which) => clients[which].createTable()));
  const collections = openRequestTables(table, (name) => {
    const collection = server.metadataStore.db.getCollection(`${devStoreAccount.name}$${name}`);
    if (!collection) throw new Error(`Azurite has no collection for table ${name}`);
    return collection;
  });
  const recordingStore = (): { store: TableRequestStore; recorders: Record<Which, RecordingTable> } => {
    const recorders = { table: new RecordingTable(), work: new RecordingTable() };
    const asClient = (recorder: RecordingTable): TableClient => recorder as unknown as TableClient;
    return { store: new TableRequestStore(asClient(recorders.table), asClient(recorders.work)), recorders };
  };
  const now = Date.now();
  const run = `seed-${table}`;

  // The first few over HTTP through the real store; their stored documents are the reference.
  const viaHttp = new TableRequestStore(clients.table, clients.work);
  const checked = Math.min(HTTP_CHECKED, count);
  for (let i = 0; i < checked; i += 1) {
    const request = finishedRequest(run, i, now);
    await writeThroughStore(viaHttp, request);
    const { store, recorders } = recordingStore();
    await writeThroughStore(store, request);
    for (const which of TABLES) {
      for (const entity of recorders[which].written) {
        const stored = collections[which].find({ PartitionKey: entity.partitionKey, RowKey: entity.rowKey })[0];
        if (!stored) throw new Error(`seeding check: ${entity.partitionKey}/${entity.rowKey} not stored over HTTP`);
        const expected = JSON.stringify(comparable(azuriteDocument(entity, 'x')));
        const actual = JSON.stringify(comparable(stored));
        if (expected !== actual) {
          throw new Error(
            `seeding check: bulk form differs from Azurite's\n  bulk:  ${expected}\n  azurite: ${actual}`,
          );
        }
      }
    }
  }

  // The rest: the same store, recorded, then one bulk insert per table with its indexes rebuilt once.
  const { store, recorders } = recordingStore();
  for (let i = checked; i < count; i += 1) await writeThroughStore(store, finishedRequest(run, i, now));
  const timestamp = azuriteTimestamp(new Date());
  for (const which of TABLES) {
    const collection = collections[which];
    const docs = recorders[which].written.map((entity) => azuriteDocument(entity, timestamp));
    collection.adaptiveBinaryIndices = false;
    for (let i = 0; i < docs.length; i += 10_000) collection.insert(docs.slice(i, i + 10_000));
    collection.adaptiveBinaryIndices = true;
    collection.ensureAllIndexes(true);
  }
  return { seeded: count, checked };
}

async function main(): Promise<void> {
  const specs = process.argv.slice(2).map((arg) => {
    const [table, count] = arg.split(':');
    if (!table || !TABLE_NAME.test(table) || !(Number(count) >= 0)) {
      throw new Error(`expected <table>:<count>, got ${arg}`);
    }
    return { table, count: Number(count) };
  });
  AzuriteTelemetryClient.init('', false, undefined);
  const workDir = mkdtempSync(join(tmpdir(), 'bench-table-'));
  // host, port, keepAlive, db path, debug log, access log, access stream, debug file, loose,
  // skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemoryPersistence
  const configuration = new TableConfiguration(
    '127.0.0.1',
    0,
    undefined,
    join(workDir, 'table.json'),
    false,
    false,
    undefined,
    undefined,
    false,
    true,
    '',
    '',
    '',
    undefined,
    false,
    true,
  );
  const server = new TableServer(configuration);
  await server.start();
  const tableUrl = `${server.getHttpServerAddress()}/${devStoreAccount.name}`;
  const connectionString = connectionStringFor({ blobUrl: tableUrl, queueUrl: tableUrl, tableUrl });
  const started = performance.now();
  const seeded: Record<string, number> = {};
  let checked = 0;
  for (const spec of specs) {
    const result = await seedTable(server, connectionString, spec.table, spec.count);
    seeded[spec.table] = result.seeded;
    checked += result.checked;
  }
  process.stdout.write(
    `${JSON.stringify({ tableUrl, connectionString, seeded, checked, seedMs: performance.now() - started })}\n`,
  );
  const stop = (): void => {
    void server.close().finally(() => {
      rmSync(workDir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
