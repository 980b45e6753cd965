/** Every request the simulator saw, in a bounded ring, plus counters for benchmarks. */

export interface RecordedRequest {
  seq: number;
  time: string;
  method: string;
  /** Path with query, as sent. */
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text (form bodies with secrets masked), or null when empty. */
  body: unknown;
  /** The status sent, or null when the connection was reset (or the answer is still pending). */
  status: number | null;
  /** The injected fault, e.g. `before:503` or `after:reset`, when one fired. */
  fault?: string;
}

export interface RouteStats {
  [status: string]: number;
}

export interface SimulatorStats {
  requests: { total: number; byRoute: Record<string, RouteStats> };
  chatsCreated: number;
  operationsStarted: number;
  tokensIssued: number;
  /** 429s from the token buckets. */
  throttled: number;
  /** The same, by kind of call: creates (`write`) and reads have separate buckets, as in Graph. */
  throttledByKind: { write: number; read: number };
  /** Every 429 sent, from the bucket or from faults. */
  responses429: number;
  faultsFired: { script: number; chaos: number; byType: Record<string, number> };
}

const KNOWN_WORDS = new Set([
  'v1.0',
  'beta',
  'chats',
  'operations',
  'users',
  'oauth2',
  'v2.0',
  'token',
  '.well-known',
  'openid-configuration',
  'discovery',
  'keys',
]);

/** `POST /v1.0/chats('19:x')/operations('y')` → `POST /v1.0/chats/{id}/operations/{id}`: keeps stats small. */
export function routeTemplate(method: string, path: string): string {
  const pathOnly = (path.split('?')[0] ?? '').replace(/\('(?:[^']|'')*'\)/g, '/{id}');
  const segments = pathOnly
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => (KNOWN_WORDS.has(s) || s === '{id}' ? s : '{id}'));
  return `${method} /${segments.join('/')}`;
}

const SECRET_FIELDS = ['client_secret', 'client_assertion'];

/** Masks the caller's credentials: the log is for reading back calls, not for leaking secrets into test output. */
export function maskedHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'authorization' ? maskedAuthorization(text) : text;
  }
  return out;
}

export function maskedForm(text: string): string {
  const form = new URLSearchParams(text);
  for (const field of SECRET_FIELDS) if (form.has(field)) form.set(field, '[redacted]');
  return form.toString();
}

export class RequestLog {
  private ring: (RecordedRequest | undefined)[];
  private start = 0;
  private size = 0;
  private nextSeq = 1;
  total = 0;
  byRoute: Record<string, RouteStats> = {};

  constructor(private limit: number) {
    this.ring = new Array<RecordedRequest | undefined>(limit);
  }

  /** Sequence numbers keep growing across clears, so chats can point at the request that made them. */
  record(entry: Omit<RecordedRequest, 'seq' | 'status'>): RecordedRequest {
    const recorded: RecordedRequest = { seq: this.nextSeq, status: null, ...entry };
    this.nextSeq += 1;
    this.total += 1;
    if (this.size < this.limit) {
      this.ring[(this.start + this.size) % this.limit] = recorded;
      this.size += 1;
    } else {
      this.ring[this.start] = recorded;
      this.start = (this.start + 1) % this.limit;
    }
    return recorded;
  }

  finish(entry: RecordedRequest, status: number | null, fault?: string): void {
    entry.status = status;
    if (fault) entry.fault = fault;
    const route = routeTemplate(entry.method, entry.path);
    const key = status === null ? 'reset' : String(status);
    const stats = (this.byRoute[route] ??= {});
    stats[key] = (stats[key] ?? 0) + 1;
  }

  list(): RecordedRequest[] {
    const out: RecordedRequest[] = [];
    for (let i = 0; i < this.size; i += 1) {
      const entry = this.ring[(this.start + i) % this.limit];
      if (entry) out.push(entry);
    }
    return out;
  }

  clear(): void {
    this.ring = new Array<RecordedRequest | undefined>(this.limit);
    this.start = 0;
    this.size = 0;
  }

  resetCounters(): void {
    this.total = 0;
    this.byRoute = {};
  }

  setLimit(limit: number): void {
    const kept = this.list().slice(-limit);
    this.limit = limit;
    this.clear();
    for (const entry of kept) {
      this.ring[this.size] = entry;
      this.size += 1;
    }
  }
}

/** `Bearer [redacted] uti=<token id>`: the token stays secret, but a test can tell which one was sent. */
function maskedAuthorization(text: string): string {
  const match = /^(\w+)\s+(\S+)$/.exec(text);
  if (!match) return '[redacted]';
  const [, scheme, credential] = match;
  let uti: unknown;
  try {
    uti = (JSON.parse(Buffer.from(credential!.split('.')[1] ?? '', 'base64url').toString('utf8')) as { uti?: unknown })
      .uti;
  } catch {
    uti = undefined;
  }
  return typeof uti === 'string' ? `${scheme} [redacted] uti=${uti}` : `${scheme} [redacted]`;
}
