import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { DefaultAzureCredential, ManagedIdentityCredential, TokenCredential } from '@azure/identity';
import { QueueClient } from '@azure/storage-queue';
import { appSettings } from './app-settings';
import { Config, ConfigError, loadConfig } from './config';
import { isConflict } from '../core/errors';
import { createCredential, GraphChats, SdkGraphChats } from '../graph/graph-client';
import type { RequestQueue } from '../core/queue/port';
import { StorageRequestQueue } from '../storage/request-queue';
import { RequestStore } from '../core/request-store';
import { openRequestTables, TableRequestStore } from '../storage/table-store';
import { startTelemetryFor } from './telemetry-start';
import { aimdSettings } from '../core/rate/aimd';
import { GraphRateGate } from '../core/rate/gate';
import { TableFleetRateStore } from '../storage/fleet-rate-table-store';

/**
 * The composition root: configuration is validated once and every client is built once per
 * process, then handed to the use cases. Functions call `services()`; tests build their own.
 */
export interface Services {
  config: Config;
  store: RequestStore;
  queue: RequestQueue;
  poisonQueue: QueueClient;
  queueClient: QueueClient;
  table: TableClient;
  /** The work table (CHAT_REQUESTS_TABLE + "Work"): in-flight indexes, markers, the shared rate. */
  workTable: TableClient;
  graph: GraphChats;
  gate: GraphRateGate;
  /** Resolves once the table and queues exist (created on first use; retried after a failure). */
  ready(): Promise<void>;
}

let cached: Services | undefined;

export function services(): Services {
  if (!cached) {
    const config = loadConfig(appSettings());
    // Exports only when APPLICATIONINSIGHTS_CONNECTION_STRING is set; never throws. In the function app it
    // has been started already, before the handler modules (and the SDKs) were loaded: shared/platform/handler-loader.ts.
    startTelemetryFor(config);
    cached = buildServices(config);
  }
  return cached;
}

/** The configuration problem, if any, without building anything (health endpoint). */
export function configProblem(): ConfigError | undefined {
  try {
    services();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

export function buildServices(config: Config): Services {
  const { table, workTable, queueClient, poisonQueue } = storageClients(config);
  const credential = createCredential(config.graph);
  const gate = new GraphRateGate(aimdSettings(config.graph.maxRps), new TableFleetRateStore(workTable), randomUUID());
  let created: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    created ??= ensureStorage([table, workTable], [queueClient, poisonQueue]).catch((error: unknown) => {
      created = undefined;
      throw error;
    });
    return created;
  };
  return {
    config,
    store: new TableRequestStore(table, workTable),
    queue: new StorageRequestQueue(queueClient),
    poisonQueue,
    queueClient,
    table,
    workTable,
    graph: new SdkGraphChats(credential, config.graph),
    gate,
    ready,
  };
}

/**
 * Storage calls fail fast: intake answers 503 (or leaves an unsent marker for the timer) rather than
 * holding a caller for the SDK's default ~15 s of retries against a dead endpoint.
 */
const STORAGE_RETRY = { maxTries: 3, tryTimeoutInMs: 10_000, retryDelayInMs: 200, maxRetryDelayInMs: 2_000 };
/** The same policy in the tables SDK's terms (it counts retries, not tries). Every client gets it, whatever its credential. */
const TABLE_RETRY = {
  maxRetries: STORAGE_RETRY.maxTries - 1,
  retryDelayInMs: STORAGE_RETRY.retryDelayInMs,
  maxRetryDelayInMs: STORAGE_RETRY.maxRetryDelayInMs,
};

function storageClients(config: Config): {
  table: TableClient;
  workTable: TableClient;
  queueClient: QueueClient;
  poisonQueue: QueueClient;
} {
  const storage = config.storage;
  if (storage.kind === 'connectionString') {
    // Azurite speaks plain http on loopback; the SDK refuses http unless told.
    const insecure = /(^UseDevelopmentStorage=true$)|(Endpoint=http:\/\/)/i.test(storage.connectionString);
    const { table, work: workTable } = openRequestTables(config.tableName, (name) =>
      TableClient.fromConnectionString(storage.connectionString, name, {
        allowInsecureConnection: insecure,
        retryOptions: TABLE_RETRY,
      }),
    );
    return {
      table,
      workTable,
      queueClient: new QueueClient(storage.connectionString, config.queueName, { retryOptions: STORAGE_RETRY }),
      poisonQueue: new QueueClient(storage.connectionString, config.poisonQueueName, { retryOptions: STORAGE_RETRY }),
    };
  }
  const credential: TokenCredential = storage.clientId
    ? new ManagedIdentityCredential({ clientId: storage.clientId })
    : new DefaultAzureCredential();
  const { table, work: workTable } = openRequestTables(
    config.tableName,
    (name) => new TableClient(storage.tableServiceUri, name, credential, { retryOptions: TABLE_RETRY }),
  );
  return {
    table,
    workTable,
    queueClient: new QueueClient(`${storage.queueServiceUri.replace(/\/$/, '')}/${config.queueName}`, credential, {
      retryOptions: STORAGE_RETRY,
    }),
    poisonQueue: new QueueClient(
      `${storage.queueServiceUri.replace(/\/$/, '')}/${config.poisonQueueName}`,
      credential,
      {
        retryOptions: STORAGE_RETRY,
      },
    ),
  };
}

async function ensureStorage(tables: TableClient[], queues: QueueClient[]): Promise<void> {
  for (const table of tables) {
    try {
      await table.createTable();
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
  for (const queue of queues) await queue.createIfNotExists();
}

/** Tests swap the process's services (e.g. after changing settings). */
export function resetServices(next?: Services): void {
  cached = next;
}
