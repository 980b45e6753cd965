import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Azurite, AzuriteOptions, connectionStringFor, devStoreAccount, startAzurite } from '../../dev/azurite';

/**
 * Storage the tests can break: Azurite behind an HTTP proxy on fixed loopback ports. The service only
 * ever sees the proxy, so Azurite can be stopped and started again (on new ports, on the same data)
 * without restarting the host, and single storage calls can be held at a chosen step (a queued
 * `creating` write, the row write, the message delete) while the test kills the process that made them.
 */

export type StorageService = 'queue' | 'table';

export interface StorageCall {
  service: StorageService;
  method: string;
  /** Decoded path (with query), e.g. `/devstoreaccount1/ChatRequests(PartitionKey='x',RowKey='request')`. */
  path: string;
  headers: IncomingMessage['headers'];
}

interface Hold {
  match: (call: StorageCall) => boolean;
  reached: (call: StorageCall) => void;
  held: { res: ServerResponse; forward: () => void }[];
  once: boolean;
}

class ServiceProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly service: StorageService,
    private upstream: URL,
    private readonly storage: ChaosStorage,
  ) {}

  setUpstream(url: string): void {
    this.upstream = new URL(url);
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the port and every connection: clients get ECONNREFUSED / ECONNRESET, as from a stopped Azurite. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/${devStoreAccount.name}`;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    let path = req.url ?? '/';
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep it as sent
    }
    const call: StorageCall = {
      service: this.service,
      method: (req.method ?? 'GET').toUpperCase(),
      path,
      headers: req.headers,
    };
    this.storage.calls.push({ service: call.service, method: call.method, path: call.path });
    const forward = (): void => this.forward(req, res);
    const hold = this.storage.holdFor(call);
    if (hold) {
      hold.held.push({ res, forward });
      hold.reached(call);
      return;
    }
    forward();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    if (res.destroyed) return;
    const upstream = httpRequest(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // Azurite down (or gone mid-call): the client sees its connection drop, as it would without the proxy.
    upstream.on('error', () => res.socket?.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }
}

export class ChaosStorage {
  readonly calls: { service: StorageService; method: string; path: string }[] = [];
  private readonly holds: Hold[] = [];
  private azurite: Azurite;
  private readonly queue: ServiceProxy;
  private readonly table: ServiceProxy;
  /** Times Azurite was stopped and started again. */
  restarts = 0;

  private constructor(
    azurite: Azurite,
    private readonly options: AzuriteOptions,
  ) {
    this.azurite = azurite;
    this.queue = new ServiceProxy('queue', new URL(azurite.queueUrl), this);
    this.table = new ServiceProxy('table', new URL(azurite.tableUrl), this);
  }

  /** Azurite (persistent when `location` is given, which a restart needs) behind the proxy. */
  static async start(options: AzuriteOptions = {}): Promise<ChaosStorage> {
    const azurite = await startAzurite({ silent: true, ...options });
    const storage = new ChaosStorage(azurite, options);
    await storage.queue.listen();
    await storage.table.listen();
    return storage;
  }

  /** What the service is given: the proxy's endpoints. */
  get connectionString(): string {
    return connectionStringFor({ blobUrl: this.azurite.blobUrl, queueUrl: this.queue.url, tableUrl: this.table.url });
  }

  /** Straight to Azurite, for the test's own reads (never held, never down with the proxy). */
  get direct(): Azurite {
    return this.azurite;
  }

  holdFor(call: StorageCall): Hold | undefined {
    const hold = this.holds.find((h) => h.match(call) && !(h.once && h.held.length > 0));
    return hold;
  }

  /**
   * Holds every matching call (or the first, with `once`) without forwarding it. `reached` resolves at the
   * first one; `release()` forwards what was held and stops holding.
   */
  hold(
    match: (call: StorageCall) => boolean,
    options: { once?: boolean } = {},
  ): { reached: Promise<StorageCall>; release: () => void; drop: () => void } {
    let resolveReached!: (call: StorageCall) => void;
    const reached = new Promise<StorageCall>((done) => (resolveReached = done));
    let first = true;
    const hold: Hold = {
      match,
      once: options.once ?? true,
      held: [],
      reached: (call) => {
        if (first) {
          first = false;
          resolveReached(call);
        }
      },
    };
    this.holds.push(hold);
    return {
      reached,
      release: () => {
        const index = this.holds.indexOf(hold);
        if (index >= 0) this.holds.splice(index, 1);
        for (const held of hold.held.splice(0)) held.forward();
      },
      /** Stops holding; what was held fails as a dropped connection (the caller sees a reset). */
      drop: () => {
        const index = this.holds.indexOf(hold);
        if (index >= 0) this.holds.splice(index, 1);
        for (const held of hold.held.splice(0)) held.res.socket?.destroy();
      },
    };
  }

  /** Stops Azurite for real; the proxy ports refuse connections until `startAzurite()`. */
  async stopAzurite(): Promise<void> {
    await this.queue.close();
    await this.table.close();
    await this.azurite.stop();
  }

  /** Starts Azurite again on the same data (new ports behind the same proxy ports). */
  async startAzurite(): Promise<void> {
    if (!this.options.location) throw new Error('a restart needs a persistent location');
    this.azurite = await startAzurite({ silent: true, ...this.options });
    this.queue.setUpstream(this.azurite.queueUrl);
    this.table.setUpstream(this.azurite.tableUrl);
    await this.queue.listen();
    await this.table.listen();
    this.restarts += 1;
  }

  async stop(): Promise<void> {
    for (const hold of this.holds.splice(0)) for (const held of hold.held) held.res.socket?.destroy();
    await this.queue.close();
    await this.table.close();
    await this.azurite.stop();
  }
}

/** A table write to one entity: `PUT`/`MERGE`/`DELETE` of `Table(PartitionKey='pk',RowKey='rk')`; undefined = any. */
export function tableWrite(
  call: StorageCall,
  method: 'PUT' | 'MERGE' | 'DELETE' | 'PATCH',
  partitionKey?: string,
  rowKey?: string,
): boolean {
  if (call.service !== 'table' || call.method !== method) return false;
  const m = /\(PartitionKey='([^']*)',RowKey='([^']*)'\)/.exec(call.path);
  return Boolean(
    m && (partitionKey === undefined || m[1] === partitionKey) && (rowKey === undefined || m[2] === rowKey),
  );
}
