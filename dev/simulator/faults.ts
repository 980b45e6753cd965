import { TOKEN_ERROR_KINDS, TokenErrorKind } from './entra';
import { KNOWN_GRAPH_ERROR_NAMES, KnownGraphError } from './graph-errors';
import { SeededRandom } from './seeded-random';

/** Scripted faults (the next N matching calls) and seeded random chaos. Pure decisions; the server carries them out. */

export const FAULT_STATUSES = [429, 500, 502, 503, 504] as const;
export type FaultStatus = (typeof FAULT_STATUSES)[number];

export type FaultAction =
  /** retryAfter: seconds (decimals allowed) for the Retry-After header; null sends none; omitted sends 1 on a 429. */
  | { type: 'status'; status: FaultStatus; retryAfter?: number | null }
  | { type: 'delay'; ms: number }
  | { type: 'reset' }
  | { type: 'tokenError'; error: TokenErrorKind }
  /** One of the answers real Graph is known to give (graph-errors.ts KNOWN_GRAPH_ERRORS), in its envelope. */
  | { type: 'graphError'; error: KnownGraphError };

/** before: answer with the fault instead of doing the work; after: do the work, then fail the answer. */
export type FaultPhase = 'before' | 'after';

export interface FaultMatch {
  method?: string;
  /** Compared with the path without its query. */
  pathPrefix?: string;
  /** Tested against the path with its query. */
  pathRegex?: string;
}

export interface FaultScriptInput {
  match?: FaultMatch;
  count?: number;
  phase?: FaultPhase;
  fault: FaultAction;
}

export interface FaultScript {
  id: string;
  match: FaultMatch;
  count: number;
  remaining: number;
  phase: FaultPhase;
  fault: FaultAction;
}

export interface ChaosSettings {
  seed: number;
  /** Share of eligible calls that get a fault, 0..1; 0 turns chaos off. */
  rate: number;
  /** `[after:]429|429-no-retry-after|500|502|503|504|reset|delay`. */
  kinds: string[];
  /** Which calls are eligible; default every Graph call (/v1.0 and /beta). */
  match?: FaultMatch;
  delayMs: number;
}

export interface ChosenFault {
  phase: FaultPhase;
  fault: FaultAction;
  source: 'script' | 'chaos';
  scriptId?: string;
}

export const DEFAULT_CHAOS_KINDS = ['429', '500', '503', 'reset'];
const CHAOS_KIND = /^(after:)?(429|429-no-retry-after|500|502|503|504|reset|delay)$/;
const GRAPH_PATHS: FaultMatch = { pathRegex: '^/(v1\\.0|beta)/' };

function fail(message: string): never {
  throw new TypeError(message);
}

export function parseFaultMatch(input: unknown): FaultMatch {
  if (input === undefined) return {};
  if (input === null || typeof input !== 'object') fail('match must be an object');
  const { method, pathPrefix, pathRegex } = input as Record<string, unknown>;
  if (method !== undefined && typeof method !== 'string') fail('match.method must be a string');
  if (pathPrefix !== undefined && typeof pathPrefix !== 'string') fail('match.pathPrefix must be a string');
  if (pathRegex !== undefined) {
    if (typeof pathRegex !== 'string') fail('match.pathRegex must be a string');
    try {
      new RegExp(pathRegex);
    } catch {
      fail(`match.pathRegex is not a valid regular expression: ${pathRegex}`);
    }
  }
  if (pathPrefix !== undefined && pathRegex !== undefined) fail('give match.pathPrefix or match.pathRegex, not both');
  return {
    ...(method !== undefined ? { method: method.toUpperCase() } : {}),
    ...(pathPrefix !== undefined ? { pathPrefix } : {}),
    ...(pathRegex !== undefined ? { pathRegex } : {}),
  };
}

export function parseFaultAction(input: unknown): FaultAction {
  if (input === null || typeof input !== 'object') fail('fault must be an object with a type');
  const f = input as Record<string, unknown>;
  switch (f.type) {
    case 'status': {
      if (!FAULT_STATUSES.includes(f.status as FaultStatus))
        fail(`fault.status must be one of ${FAULT_STATUSES.join(', ')}`);
      if (
        f.retryAfter !== undefined &&
        f.retryAfter !== null &&
        (typeof f.retryAfter !== 'number' || !(f.retryAfter >= 0))
      ) {
        fail('fault.retryAfter must be a number of seconds >= 0, or null');
      }
      return {
        type: 'status',
        status: f.status as FaultStatus,
        ...(f.retryAfter !== undefined ? { retryAfter: f.retryAfter as number | null } : {}),
      };
    }
    case 'delay':
      if (typeof f.ms !== 'number' || !(f.ms >= 0) || f.ms > 600_000)
        fail('fault.ms must be a number of milliseconds, 0..600000');
      return { type: 'delay', ms: f.ms };
    case 'reset':
      return { type: 'reset' };
    case 'tokenError':
      if (!TOKEN_ERROR_KINDS.includes(f.error as TokenErrorKind)) {
        fail(`fault.error must be one of ${TOKEN_ERROR_KINDS.join(', ')}`);
      }
      return { type: 'tokenError', error: f.error as TokenErrorKind };
    case 'graphError':
      if (!KNOWN_GRAPH_ERROR_NAMES.includes(f.error as KnownGraphError)) {
        fail(`fault.error must be one of ${KNOWN_GRAPH_ERROR_NAMES.join(', ')}`);
      }
      return { type: 'graphError', error: f.error as KnownGraphError };
    default:
      return fail(`fault.type must be status, delay, reset, tokenError or graphError, got ${String(f.type)}`);
  }
}

export function parseFaultScript(input: unknown, id: string): FaultScript {
  if (input === null || typeof input !== 'object') fail('a fault script must be an object');
  const s = input as Record<string, unknown>;
  const count = s.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) fail('count must be an integer >= 1');
  const phase = s.phase ?? 'before';
  if (phase !== 'before' && phase !== 'after') fail('phase must be "before" or "after"');
  return { id, match: parseFaultMatch(s.match), count, remaining: count, phase, fault: parseFaultAction(s.fault) };
}

export function parseChaos(input: unknown): ChaosSettings {
  if (input === null || typeof input !== 'object') fail('chaos settings must be an object');
  const c = input as Record<string, unknown>;
  const rate = c.rate ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) fail('rate must be a number in 0..1');
  const seed = c.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) fail('seed must be an integer');
  const kinds = c.kinds ?? DEFAULT_CHAOS_KINDS;
  if (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every((k) => typeof k === 'string' && CHAOS_KIND.test(k))) {
    fail('kinds must be a non-empty list of [after:]429|429-no-retry-after|500|502|503|504|reset|delay');
  }
  const delayMs = c.delayMs ?? 2000;
  if (typeof delayMs !== 'number' || !(delayMs >= 0)) fail('delayMs must be a number >= 0');
  return {
    seed,
    rate,
    kinds: kinds as string[],
    delayMs,
    ...(c.match !== undefined ? { match: parseFaultMatch(c.match) } : {}),
  };
}

export function matches(match: FaultMatch, method: string, path: string): boolean {
  if (match.method !== undefined && match.method !== method.toUpperCase()) return false;
  const pathOnly = path.split('?')[0] ?? path;
  if (match.pathPrefix !== undefined && !pathOnly.startsWith(match.pathPrefix)) return false;
  if (match.pathRegex !== undefined && !new RegExp(match.pathRegex).test(path)) return false;
  return true;
}

function chaosFault(kind: string, delayMs: number): { phase: FaultPhase; fault: FaultAction } {
  const phase: FaultPhase = kind.startsWith('after:') ? 'after' : 'before';
  const name = kind.replace(/^after:/, '');
  if (name === 'reset') return { phase, fault: { type: 'reset' } };
  if (name === 'delay') return { phase, fault: { type: 'delay', ms: delayMs } };
  if (name === '429-no-retry-after') return { phase, fault: { type: 'status', status: 429, retryAfter: null } };
  return { phase, fault: { type: 'status', status: Number(name) as FaultStatus } };
}

export class FaultBook {
  private scripts: FaultScript[] = [];
  private chaosSettings: ChaosSettings = { seed: 1, rate: 0, kinds: DEFAULT_CHAOS_KINDS, delayMs: 2000 };
  private chaosRandom = new SeededRandom(1);
  private nextId = 1;
  fired = { script: 0, chaos: 0, byType: {} as Record<string, number> };

  add(input: unknown): FaultScript {
    const script = parseFaultScript(input, `fault-${this.nextId}`);
    this.nextId += 1;
    this.scripts.push(script);
    return { ...script };
  }

  list(): FaultScript[] {
    return this.scripts.map((s) => ({ ...s }));
  }

  clear(): void {
    this.scripts = [];
  }

  setChaos(input: unknown): ChaosSettings {
    this.chaosSettings = parseChaos(input);
    this.chaosRandom = new SeededRandom(this.chaosSettings.seed);
    return { ...this.chaosSettings };
  }

  chaos(): ChaosSettings {
    return { ...this.chaosSettings };
  }

  reset(): void {
    this.clear();
    this.setChaos({ rate: 0 });
    this.fired = { script: 0, chaos: 0, byType: {} };
  }

  /** The fault for this call, if any; scripts go first, in the order they were added, and are used up. */
  take(method: string, path: string): ChosenFault | undefined {
    const script = this.scripts.find((s) => s.remaining > 0 && matches(s.match, method, path));
    if (script) {
      script.remaining -= 1;
      if (script.remaining === 0) this.scripts = this.scripts.filter((s) => s !== script);
      return this.record({ phase: script.phase, fault: script.fault, source: 'script', scriptId: script.id });
    }
    const chaos = this.chaosSettings;
    if (chaos.rate <= 0 || !matches(chaos.match ?? GRAPH_PATHS, method, path)) return undefined;
    if (this.chaosRandom.next() >= chaos.rate) return undefined;
    const kind = chaos.kinds[Math.floor(this.chaosRandom.next() * chaos.kinds.length)] ?? '500';
    return this.record({ ...chaosFault(kind, chaos.delayMs), source: 'chaos' });
  }

  private record(chosen: ChosenFault): ChosenFault {
    this.fired[chosen.source] += 1;
    const key = `${chosen.phase}:${faultLabel(chosen.fault)}`;
    this.fired.byType[key] = (this.fired.byType[key] ?? 0) + 1;
    return chosen;
  }
}

/** How a fault is named in counters and the request log: the status, the known error's name, or the type. */
export function faultLabel(fault: FaultAction): string {
  if (fault.type === 'status') return String(fault.status);
  if (fault.type === 'graphError') return fault.error;
  return fault.type;
}
