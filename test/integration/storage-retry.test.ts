/**
 * One storage retry policy for every client, whatever its credential: a connection-string client
 * (Azurite, key-based deployments) gives up after as many tries as a managed-identity one, instead of
 * the SDK's default retries. Counted as connections to a loopback endpoint that drops each one.
 */
import { createServer, Server, Socket } from 'node:net';
import { AddressInfo } from 'node:net';
import { loadConfig } from '../../shared/platform/config';
import { buildServices } from '../../shared/platform/composition-root';

let server: Server;
let connections = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((done) => server.close(() => done()));
});

function deadStorage(): ReturnType<typeof buildServices> {
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/devstoreaccount1`;
  const connectionString =
    'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
    'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFr/w==;' +
    `QueueEndpoint=${base};TableEndpoint=${base};`;
  return buildServices(loadConfig({ AzureWebJobsStorage: connectionString }));
}

describe('connection-string storage clients', () => {
  test('a table call tries 3 times, then fails', async () => {
    const services = deadStorage();
    connections = 0;
    await expect(services.table.getEntity('p', 'r')).rejects.toThrow();
    expect(connections).toBe(3);
  });

  test('a queue call tries 3 times, then fails', async () => {
    const services = deadStorage();
    connections = 0;
    await expect(services.queueClient.getProperties()).rejects.toThrow();
    expect(connections).toBe(3);
  });
});
