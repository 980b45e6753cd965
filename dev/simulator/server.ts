import { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { SimAnswer } from './answer';
import { handleControlCall, SimulatorControl } from './control';
import { ChosenFault, faultLabel } from './faults';
import { handleGraphCall, MalformedBody } from './graph-api';
import { codeForStatus, graphError, knownGraphError, RequestIds } from './graph-errors';
import { parseResourcePath } from './odata';
import { maskedForm, maskedHeaders, RecordedRequest } from './request-log';
import { Simulation } from './simulation';
import { ServerCertificate } from './tls';

/** The HTTPS listener: reads requests, applies faults around the real work, and writes answers. */

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ENTRA_ROUTE =
  /^\/([^/]+)\/(?:(v2\.0\/)?\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/;
const GRAPH_ROUTE = /^\/(v1\.0|beta)(\/.*)?$/;

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

interface Incoming {
  method: string;
  url: URL;
  /** Path with query, as sent. */
  rawPath: string;
  headers: IncomingMessage['headers'];
  text: string;
  origin: string;
}

function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(text: string): unknown {
  if (text.trim().length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new MalformedBody(text);
  }
}

/** What the request log keeps of a body: JSON parsed, forms with secrets masked, other text as is. */
function loggedBody(incoming: Incoming): unknown {
  if (incoming.text.length === 0) return null;
  const type = header(incoming.headers, 'content-type') ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return maskedForm(incoming.text);
  const parsed = parseJson(incoming.text);
  return parsed instanceof MalformedBody ? incoming.text : parsed;
}

export class SimulatorServer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | undefined;

  constructor(
    private readonly sim: Simulation,
    private readonly control: SimulatorControl,
    private readonly certificate: ServerCertificate,
    /** Runs before every answer (and reset) leaves: the local run saves the simulator's state here. */
    private readonly beforeAnswer: () => void = () => undefined,
  ) {}

  /** Binds 127.0.0.1 only: the simulator must never be reachable from another machine. */
  async listen(port: number): Promise<RunningServer> {
    const server = createServer({ key: this.certificate.keyPem, cert: this.certificate.certPem }, (req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'InternalServerError', message: String(error) } }));
        }
      });
    });
    // Longer than clients' idle keep-alive, so a client never reuses a socket the server is closing.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return { port: (server.address() as AddressInfo).port, close: () => this.close() };
  }

  private async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private async readBody(req: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) return undefined;
      chunks.push(buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await this.readBody(req);
    const host = header(req.headers, 'host') ?? `localhost:${(req.socket.localPort ?? 0).toString()}`;
    const origin = `https://${host}`;
    const rawPath = req.url ?? '/';
    const incoming: Incoming = {
      method: (req.method ?? 'GET').toUpperCase(),
      url: new URL(rawPath, origin),
      rawPath,
      headers: req.headers,
      text: text ?? '',
      origin,
    };
    if (incoming.url.pathname.startsWith('/_sim/') || incoming.url.pathname === '/_sim') {
      const body = parseJson(incoming.text);
      const answer =
        body instanceof MalformedBody
          ? { status: 400, headers: { 'content-type': 'application/json' }, body: { error: 'body is not JSON' } }
          : handleControlCall(this.control, incoming.method, incoming.url, body);
      this.send(res, answer);
      return;
    }

    const entry = this.sim.log.record({
      time: new Date(this.sim.clock()).toISOString(),
      method: incoming.method,
      path: rawPath,
      headers: maskedHeaders(req.headers),
      body: loggedBody(incoming),
    });
    const ids: RequestIds = {
      requestId: this.sim.requestIds.guid(),
      clientRequestId: header(req.headers, 'client-request-id') ?? this.sim.requestIds.guid(),
      now: this.sim.clock(),
    };
    if (text === undefined) {
      this.finish(res, entry, graphError(413, 'RequestEntityTooLarge', 'The request body is too large.', ids));
      return;
    }

    const fault = this.sim.faults.take(incoming.method, rawPath);
    const faultName = fault ? `${fault.phase}:${faultLabel(fault.fault)}` : undefined;
    if (fault?.phase === 'before') {
      if (fault.fault.type === 'delay') await this.sleep(fault.fault.ms);
      else {
        this.deliverFault(res, entry, fault, incoming, ids, faultName);
        return;
      }
    }
    ids.now = this.sim.clock();
    const answer = this.dispatch(incoming, entry.seq, ids);
    if (fault?.phase === 'after') {
      if (fault.fault.type === 'delay') await this.sleep(fault.fault.ms);
      else {
        this.deliverFault(res, entry, fault, incoming, ids, faultName);
        return;
      }
    }
    this.finish(res, entry, answer, faultName);
  }

  private deliverFault(
    res: ServerResponse,
    entry: RecordedRequest,
    chosen: ChosenFault,
    incoming: Incoming,
    ids: RequestIds,
    faultName: string | undefined,
  ): void {
    const fault = chosen.fault;
    if (fault.type === 'reset') {
      this.sim.log.finish(entry, null, faultName);
      this.beforeAnswer();
      res.socket?.destroy();
      return;
    }
    const entra = ENTRA_ROUTE.exec(incoming.url.pathname);
    const now = this.sim.clock();
    const clientRequestId = header(incoming.headers, 'client-request-id');
    if (fault.type === 'tokenError') {
      const clientId = new URLSearchParams(incoming.text).get('client_id') ?? undefined;
      this.finish(
        res,
        entry,
        this.sim.entra.scriptedError(fault.error, entra?.[1] ?? 'unknown', clientId, now, clientRequestId),
        faultName,
      );
      return;
    }
    if (fault.type === 'graphError') {
      this.finish(res, entry, knownGraphError(fault.error, ids), faultName);
      return;
    }
    // A delay never gets here: the caller waits it out and answers normally.
    if (fault.type !== 'status') return;
    const retryAfter = fault.retryAfter === undefined ? (fault.status === 429 ? 1 : null) : fault.retryAfter;
    const retryHeader: Record<string, string> = retryAfter === null ? {} : { 'retry-after': String(retryAfter) };
    const answer = entra
      ? this.sim.entra.statusError(fault.status, now, clientRequestId)
      : graphError(fault.status, codeForStatus(fault.status).code, codeForStatus(fault.status).message, ids);
    this.finish(res, entry, { ...answer, headers: { ...answer.headers, ...retryHeader } }, faultName);
  }

  private dispatch(incoming: Incoming, seq: number, ids: RequestIds): SimAnswer {
    const { method, url, origin } = incoming;
    const now = ids.now;
    // MSAL sends its correlation id both as a header and in the query.
    const clientRequestId =
      header(incoming.headers, 'client-request-id') ?? url.searchParams.get('client-request-id') ?? undefined;
    const entra = ENTRA_ROUTE.exec(url.pathname);
    if (entra) {
      const tenantSegment = entra[1] ?? '';
      if (url.pathname.endsWith('/token')) {
        if (method !== 'POST') return this.sim.entra.onlyPost(method, now, clientRequestId);
        return this.sim.entra.token({
          tenantSegment,
          form: new URLSearchParams(incoming.text),
          authorization: header(incoming.headers, 'authorization'),
          clientRequestId,
          origin,
          now,
        });
      }
      if (url.pathname.endsWith('/keys')) return this.sim.entra.keys(tenantSegment, now);
      return this.sim.entra.openIdConfiguration(tenantSegment, origin, now, clientRequestId);
    }

    const graph = GRAPH_ROUTE.exec(url.pathname);
    if (!graph) return graphError(404, 'UnknownError', `No Graph or Entra endpoint at '${url.pathname}'.`, ids);
    const segments = parseResourcePath(graph[2] ?? '');
    if (!segments) return graphError(400, 'BadRequest', 'The request URL could not be parsed.', ids);
    const prefer = (incoming.headers.prefer === undefined ? [] : [incoming.headers.prefer].flat())
      .flatMap((value) => value.split(','))
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token.length > 0);
    return handleGraphCall(
      {
        method,
        version: graph[1] === 'beta' ? 'beta' : 'v1.0',
        segments,
        pathname: url.pathname,
        query: url.searchParams,
        body: parseJson(incoming.text),
        prefer,
        ids,
        seq,
        now,
        origin,
      },
      header(incoming.headers, 'authorization'),
      {
        directory: this.sim.directory,
        catalog: this.sim.catalog,
        store: this.sim.store,
        entra: this.sim.entra,
        throttle: this.sim.throttle,
        operationTimings: () => this.sim.settings.operationTimings,
        defaultOperationFate: () => this.sim.settings.defaultOperationFate,
        createdDateTimeFilter: () => this.sim.settings.createdDateTimeFilter,
        retryAfterDecimal: () => this.sim.settings.retryAfterDecimal,
        onThrottled: (kind) => {
          this.sim.throttled += 1;
          this.sim.throttledByKind[kind] += 1;
        },
      },
    );
  }

  private finish(res: ServerResponse, entry: RecordedRequest, answer: SimAnswer, faultName?: string): void {
    this.sim.log.finish(entry, answer.status, faultName);
    this.send(res, answer);
  }

  private send(res: ServerResponse, answer: SimAnswer): void {
    this.beforeAnswer();
    if (res.destroyed) return;
    const body =
      answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(body)) };
    res.writeHead(answer.status, headers);
    res.end(body);
  }
}
