/**
 * Converters between Node's HTTP shapes and the RPC http data the host sends the Node worker.
 * The Node worker advertises RawHttpBodyBytes, RpcHttpBodyOnly and UseNullableValueDictionaryForHttp, so the
 * host sends: body as bytes only, lower-cased headers/query/params as nullable strings, repeated values joined.
 */
import type { RpcHttpCookie, RpcHttpData, RpcNullableString, RpcTypedData } from './functions-core';

export interface IncomingHttp {
  method: string;
  /** Absolute URL as the client addressed it. */
  url: string;
  /** Node's `rawHeaders`: name, value, name, value... */
  rawHeaders: readonly string[];
  params: Readonly<Record<string, string>>;
  body: Buffer;
}

function joinValues(pairs: Iterable<[string, string]>, lowerCaseKeys: boolean): Record<string, RpcNullableString> {
  const grouped = new Map<string, string[]>();
  for (const [rawKey, value] of pairs) {
    const key = lowerCaseKeys ? rawKey.toLowerCase() : rawKey;
    grouped.set(key, [...(grouped.get(key) ?? []), value]);
  }
  // StringValues.ToString() joins repeated values with a comma.
  return Object.fromEntries([...grouped].map(([key, values]) => [key, { value: values.join(',') }]));
}

function headerPairs(rawHeaders: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i] as string, rawHeaders[i + 1] as string]);
  return pairs;
}

/** Builds the `http` typed data of an HTTP trigger's input binding. */
export function toRpcHttp(request: IncomingHttp): RpcHttpData {
  const url = new URL(request.url);
  const http: RpcHttpData = {
    method: request.method,
    url: request.url,
    nullableHeaders: joinValues(headerPairs(request.rawHeaders), true),
    nullableQuery: joinValues(url.searchParams.entries(), false),
    nullableParams: Object.fromEntries(Object.entries(request.params).map(([key, value]) => [key, { value }])),
  };
  if (request.body.length > 0) http.body = { bytes: new Uint8Array(request.body) };
  return http;
}

export interface OutgoingHttp {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (typeof data.string === 'string') return Buffer.from(data.string, 'utf8');
  if (typeof data.json === 'string') return Buffer.from(data.json, 'utf8');
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

/** RPC `none` is "unspecified" (no attribute); `explicitNone` is SameSite=None. */
const sameSiteNames: Record<string, string | undefined> = { lax: 'lax', strict: 'strict', explicitNone: 'none' };

/** ASP.NET's `SetCookieHeaderValue` format; `path` defaults to "/" as CookieOptions does. */
export function toSetCookie(cookie: RpcHttpCookie): string {
  const parts = [`${encodeURIComponent(cookie.name ?? '')}=${encodeURIComponent(cookie.value ?? '')}`];
  const expiresSeconds = cookie.expires?.value?.seconds;
  if (typeof expiresSeconds === 'number') parts.push(`expires=${new Date(expiresSeconds * 1000).toUTCString()}`);
  const maxAge = cookie.maxAge?.value;
  if (typeof maxAge === 'number') parts.push(`max-age=${Math.trunc(maxAge)}`);
  if (cookie.domain?.value) parts.push(`domain=${cookie.domain.value}`);
  parts.push(`path=${cookie.path?.value || '/'}`);
  if (cookie.secure?.value) parts.push('secure');
  const sameSite = sameSiteNames[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`samesite=${sameSite}`);
  if (cookie.httpOnly?.value) parts.push('httponly');
  return parts.join('; ');
}

/** Headers the server computes itself. */
const managedHeaders = new Set(['content-length', 'transfer-encoding', 'connection']);

/**
 * Turns the worker's return value for the `$return` http binding into a response.
 * No value means the host's default: 200 with an empty body.
 */
export function fromRpcHttp(value: RpcTypedData | null | undefined): OutgoingHttp {
  const http = value?.http;
  if (!http) return { status: 200, headers: [], body: Buffer.alloc(0) };
  const parsed = Number.parseInt(http.statusCode ?? '', 10);
  const status = Number.isInteger(parsed) && parsed >= 100 && parsed <= 999 ? parsed : 200;
  const headers: [string, string][] = Object.entries(http.headers ?? {})
    .filter(([name]) => !managedHeaders.has(name.toLowerCase()))
    .map(([name, headerValue]) => [name, String(headerValue)]);
  for (const cookie of http.cookies ?? []) headers.push(['set-cookie', toSetCookie(cookie)]);
  return { status, headers, body: typedDataToBuffer(http.body) };
}
