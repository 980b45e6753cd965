/** The Azurite launcher: loopback only, free ports, the installed SDKs work against it, clean stop. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { type Azurite, connectionStringFor, parseListeningLine, startAzurite } from '../../dev/azurite';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startAzurite (in memory)', () => {
  let azurite: Azurite;

  beforeAll(async () => {
    azurite = await startAzurite({ silent: true });
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('listens on 127.0.0.1 only, on three distinct ports, with a devstoreaccount1 connection string', () => {
    const urls = [azurite.blobUrl, azurite.queueUrl, azurite.tableUrl];
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    expect(new Set(urls.map(portOf)).size).toBe(3);
    expect(azurite.connectionString).toContain(`QueueEndpoint=${azurite.queueUrl};`);
    expect(azurite.connectionString).toContain(`TableEndpoint=${azurite.tableUrl};`);
    expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobUrl};`);
  });

  it('serves the installed @azure/storage-queue (with --skipApiVersionCheck, as the launcher starts it)', async () => {
    // Prepare
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient('launcher-check');
    await queue.create();
    // Act
    await queue.sendMessage('aGVsbG8=');
    const received = await queue.receiveMessages();
    // Assess
    expect(received.receivedMessageItems[0]?.messageText).toBe('aGVsbG8=');
  });

  it('runs the patched queue store (patches/azurite+<version>.patch, applied by postinstall)', () => {
    // The guard in clearExpiredMessages that keeps a queue call from rebuilding every message index.
    const { version } = JSON.parse(fs.readFileSync(require.resolve('azurite/package.json'), 'utf8')) as {
      version: string;
    };
    expect(fs.existsSync(path.join(__dirname, '..', '..', 'patches', `azurite+${version}.patch`))).toBe(true);
    const store = fs.readFileSync(
      require.resolve('azurite/dist/src/queue/persistence/LokiQueueMetadataStore.js'),
      'utf8',
    );
    expect(store).toContain('if (docs.length > 0) coll.remove(docs);');
  });

  it('serves the installed @azure/data-tables', async () => {
    const table = TableClient.fromConnectionString(azurite.connectionString, 'LauncherCheck', {
      allowInsecureConnection: true,
    });
    await table.createTable();
    await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
    expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(42);
  });

  it('runs two instances side by side on different ports', async () => {
    const second = await startAzurite({ silent: true });
    try {
      expect(portOf(second.queueUrl)).not.toBe(portOf(azurite.queueUrl));
    } finally {
      await second.stop();
    }
  });
});

describe('startAzurite (persistent location)', () => {
  it('keeps data across a restart on the same folder, and frees its ports on stop', async () => {
    // Prepare
    const location = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-data-'));
    const first = await startAzurite({ location, silent: true });
    const table = TableClient.fromConnectionString(first.connectionString, 'Persisted', {
      allowInsecureConnection: true,
    });
    await table.createTable();
    await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 'kept' });
    // Act
    await first.stop();
    const stoppedPorts = await Promise.all(
      [first.blobUrl, first.queueUrl, first.tableUrl].map((u) => isListening(portOf(u))),
    );
    const second = await startAzurite({ location, silent: true });
    try {
      // Assess
      expect(stoppedPorts).toEqual([false, false, false]);
      const again = TableClient.fromConnectionString(second.connectionString, 'Persisted', {
        allowInsecureConnection: true,
      });
      expect((await again.getEntity<{ value: string }>('p', 'r')).value).toBe('kept');
    } finally {
      await second.stop();
      fs.rmSync(location, { recursive: true, force: true });
    }
  });

  it('stop() is idempotent', async () => {
    const azurite = await startAzurite({ silent: true });
    await Promise.all([azurite.stop(), azurite.stop()]);
    expect(await isListening(portOf(azurite.queueUrl))).toBe(false);
  });
});

describe('launcher parsing', () => {
  it('reads the ports Azurite reports', () => {
    expect(parseListeningLine('Azurite Queue service is successfully listening at http://127.0.0.1:43145')).toEqual({
      service: 'queue',
      url: 'http://127.0.0.1:43145',
    });
    expect(parseListeningLine('Azurite Blob service is starting at http://127.0.0.1:0')).toBeUndefined();
  });

  it('builds a connection string with explicit endpoints', () => {
    const cs = connectionStringFor({ blobUrl: 'http://b', queueUrl: 'http://q', tableUrl: 'http://t' });
    expect(cs).toBe(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
        'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
        'BlobEndpoint=http://b;QueueEndpoint=http://q;TableEndpoint=http://t;',
    );
  });
});
