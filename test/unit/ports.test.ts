import * as net from 'node:net';
import { portInUse, takenPorts } from '../../dev/ports';

describe('takenPorts', () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('names a taken port, what wanted it and how to pick another', async () => {
    expect(await portInUse(port, '127.0.0.1')).toBe(true);
    expect(await takenPorts([{ port, what: 'the local host', howToChange: 'set LOCAL_HOST_PORT' }])).toEqual([
      `port ${port} (the local host) is in use by another program; set LOCAL_HOST_PORT`,
    ]);
  });

  it('says nothing of a free port or of port 0 (any free port)', async () => {
    const probe = net.createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise((done) => probe.close(done));
    expect(await takenPorts([{ port: free, what: 'x', howToChange: 'y' }])).toEqual([]);
    expect(await takenPorts([{ port: 0, what: 'x', howToChange: 'y' }])).toEqual([]);
  });
});
