/** The HTTP front door: routes like the host's WebJobsRouter, function keys, body limit, RPC conversion. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AuthLevel, type FunctionKeys, isAuthorized, presentedKey, toAuthLevel } from './function-keys';
import type { RegisteredFunction, RpcInvocationResponse, RpcTypedData } from './functions-core';
import type { HostLogger, InvocationRunner } from './invocation';
import { type RouteTemplate, matchRoute, parseRouteTemplate } from './route-template';
import { fromRpcHttp, toRpcHttp } from './rpc-http';

export interface HttpRoute {
  fn: RegisteredFunction;
  template: RouteTemplate;
  methods: ReadonlySet<string>;
  authLevel: AuthLevel;
  triggerBindingName: string;
}

/** The host's default FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: 100 MB. */
export const defaultRequestBodyLimitBytes = 104_857_600;

/**
 * One route per HTTP function, ordered by function name (case-insensitive) as the host's function list is:
 * the first template that matches the path and the method wins, so a method no function accepts is a 404.
 */
export function buildHttpRoutes(functions: readonly RegisteredFunction[], routePrefix: string): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of functions) {
    const entry = Object.entries(fn.metadata.bindings).find(([, b]) => b.type?.toLowerCase() === 'httptrigger');
    if (!entry) continue;
    const [triggerBindingName, trigger] = entry;
    const route = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : fn.name;
    const template = parseRouteTemplate(routePrefix ? `${routePrefix}/${route.replace(/^\/+/, '')}` : route);
    const methods = Array.isArray(trigger.methods)
      ? trigger.methods.map((m) => String(m).toUpperCase())
      : ['GET', 'POST'];
    routes.push({
      fn,
      template,
      methods: new Set(methods),
      authLevel: toAuthLevel(trigger.authLevel),
      triggerBindingName,
    });
  }
  return routes.sort((a, b) => {
    const x = a.fn.name.toUpperCase();
    const y = b.fn.name.toUpperCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export function findRoute(
  routes: readonly HttpRoute[],
  method: string,
  path: string,
): { route: HttpRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (!route.methods.has(method.toUpperCase())) continue;
    const params = matchRoute(route.template, path);
    if (params) return { route, params };
  }
  return undefined;
}

/** The http output of a response: `$return` or a named http output binding. */
function httpOutput(fn: RegisteredFunction, response: RpcInvocationResponse): RpcTypedData | null | undefined {
  const name = Object.entries(fn.metadata.bindings).find(
    ([, binding]) => binding.direction === 'out' && binding.type?.toLowerCase() === 'http',
  )?.[0];
  if (!name) return undefined;
  if (name === '$return') return response.returnValue;
  return response.outputData?.find((output) => output.name === name)?.data;
}

class BodyTooLargeError extends Error {}

/** Backstop: a refused upload's connection is destroyed by then even if the close below did not happen. */
const refusedCloseMs = 2_000;

/**
 * Buffers the body up to `limit` bytes. The chunk that crosses it ends the read: the request is paused and
 * nothing more is taken from the socket (refuse() answers and closes it), so an oversized upload costs at
 * most the limit plus one socket read, never its whole size.
 */
function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        request.off('data', onData);
        request.pause();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/**
 * 413 with `Connection: close`, without reading the rest of the body. Node's server would drain an unread
 * body to reuse the connection; here the socket stops reading at once (the client's upload backs up in
 * TCP), and the server closes the connection as soon as the answer is flushed.
 */
function refuseTooLarge(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  isHead: boolean,
  emit: HostLogger,
  limit: number,
): void {
  const socket = request.socket;
  // What the refused upload cost: bytes taken from the socket, headers included.
  socket.once('close', () =>
    emit({ event: 'http', phase: 'refused', status: 413, limit, bytesRead: socket.bytesRead }),
  );
  request.pause();
  socket.pause();
  response.shouldKeepAlive = false;
  response.once('finish', () => {
    // Node resumes an unconsumed request on finish (req._dump()); the socket itself stays paused.
    socket.pause();
    setTimeout(() => socket.destroy(), refusedCloseMs).unref();
  });
  send(response, 413, [['connection', 'close']], Buffer.alloc(0), isHead);
}

const bodylessStatuses = new Set([204, 205, 304]);

function send(
  response: http.ServerResponse,
  status: number,
  headers: [string, string][],
  body: Buffer,
  isHead: boolean,
): void {
  if (response.headersSent || response.destroyed) return;
  const grouped: Record<string, string | string[]> = {};
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const existing = grouped[key];
    if (key === 'set-cookie')
      grouped[key] = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), value];
    else grouped[key] = value;
  }
  const withoutBody = isHead || bodylessStatuses.has(status);
  if (!withoutBody) grouped['content-length'] = String(body.length);
  response.writeHead(status, grouped);
  response.end(withoutBody ? undefined : body);
}

export interface HttpListenerOptions {
  routes: readonly HttpRoute[];
  runner: InvocationRunner;
  keys: FunctionKeys;
  emit: HostLogger;
  requestBodyLimitBytes: number;
  homepage: boolean;
}

export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #servers: http.Server[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #stopping = false;
  #port = 0;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
  }

  get port(): number {
    return this.#port;
  }

  /** Listens on 127.0.0.1 (and best effort on ::1, so `localhost` works whichever address it resolves to). */
  async listen(port: number): Promise<number> {
    const primary = this.#createServer();
    await new Promise<void>((resolve, reject) => {
      primary.once('error', reject);
      primary.listen(port, '127.0.0.1', () => {
        primary.off('error', reject);
        resolve();
      });
    });
    this.#servers.push(primary);
    this.#port = (primary.address() as AddressInfo).port;
    const secondary = this.#createServer();
    await new Promise<void>((resolve) => {
      secondary.once('error', () => resolve());
      secondary.listen(this.#port, '::1', () => {
        this.#servers.push(secondary);
        resolve();
      });
    });
    return this.#port;
  }

  /** Stops accepting connections; requests already inside finish (callers wait on invocations). */
  stopAccepting(): void {
    this.#stopping = true;
    for (const server of this.#servers) {
      server.close();
      server.closeIdleConnections();
    }
  }

  /** Resolves when every request that had started is answered. */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  closeAllConnections(): void {
    for (const server of this.#servers) server.closeAllConnections();
  }

  #createServer(): http.Server {
    const server = http.createServer((request, response) => {
      const handled = this.#handle(request, response).catch((error: unknown) => {
        this.#options.emit({ event: 'http', phase: 'error', message: (error as Error)?.message ?? String(error) });
        send(response, 500, [], Buffer.alloc(0), false);
      });
      this.#inFlight.add(handled);
      void handled.finally(() => this.#inFlight.delete(handled));
    });
    server.keepAliveTimeout = 5_000;
    return server;
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const method = (request.method ?? 'GET').toUpperCase();
    const isHead = method === 'HEAD';
    if (this.#stopping) {
      response.setHeader('connection', 'close');
      request.resume();
      return send(response, 503, [], Buffer.alloc(0), isHead);
    }
    // The url the worker gets is the one the client addressed, as the host builds it from Host + path + query.
    const rawUrl = `http://${request.headers.host ?? `127.0.0.1:${this.#port}`}${request.url ?? '/'}`;
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      request.resume();
      return send(response, 400, [], Buffer.alloc(0), isHead);
    }
    const rawPath = (request.url ?? '/').split('?')[0] as string;
    if (this.#options.homepage && rawPath === '/' && (method === 'GET' || isHead)) {
      request.resume();
      const page = Buffer.from(
        '<!DOCTYPE html><html><body><p>Your Functions 4.0 app is up and running (local host)</p></body></html>',
      );
      return send(response, 200, [['content-type', 'text/html; charset=utf-8']], page, isHead);
    }
    const found = findRoute(this.#options.routes, method, rawPath);
    if (!found) {
      request.resume();
      return send(response, 404, [], Buffer.alloc(0), isHead);
    }
    const { route, params } = found;
    const key = presentedKey(request.headers['x-functions-key'], url.searchParams);
    if (!isAuthorized(route.authLevel, key, this.#options.keys)) {
      request.resume();
      return send(response, 401, [], Buffer.alloc(0), isHead);
    }
    const declaredLength = Number(request.headers['content-length'] ?? 0);
    if (declaredLength > this.#options.requestBodyLimitBytes)
      return refuseTooLarge(request, response, isHead, this.#options.emit, this.#options.requestBodyLimitBytes);
    let body: Buffer;
    try {
      body = await readBody(request, this.#options.requestBodyLimitBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return refuseTooLarge(request, response, isHead, this.#options.emit, this.#options.requestBodyLimitBytes);
      throw error;
    }
    const rpcHttp = toRpcHttp({ method, url: rawUrl, rawHeaders: request.rawHeaders, params, body });
    const outcome = await this.#options.runner.invoke(
      route.fn,
      { inputData: [{ name: route.triggerBindingName, data: { http: rpcHttp } }] },
      { trigger: 'http', method, path: url.pathname },
    );
    if (outcome.outcome !== 'succeeded') return send(response, 500, [], Buffer.alloc(0), isHead);
    const out = fromRpcHttp(httpOutput(route.fn, outcome.response));
    send(response, out.status, out.headers, out.body, isHead);
  }
}
