import { AppCatalog } from './chat-rules';
import { ChatStore } from './chat-store';
import { Directory } from './directory';
import { EntraSimulator, GRAPH_APP_ROLES, RegisteredApp } from './entra';
import { FaultBook } from './faults';
import { RequestLog } from './request-log';
import { SeededRandom, streamFor } from './seeded-random';
import { CallKind, Clock, TEAMS_OTHER_CALLS_RPS, Throttle } from './throttle';
import { ClientCredentialCertificate } from './tls';
import {
  DEFAULT_OPERATION_TIMINGS,
  OperationFate,
  OperationTimings,
  parseOperationFate,
  parseOperationTimings,
} from './operations';

/** All the simulator's state and settings, with no sockets: the server and the control API both work on this. */

export interface SimulationSettings {
  /** Creates (`POST /chats`, an "Other API call for Microsoft Teams") per second per app per tenant. */
  tenantRps: number;
  /** Reads (chat, a member's chats, operations: "Other GET API calls") per second per app per tenant. */
  readRps: number;
  /** Retry-After with millisecond decimals (e.g. 0.5) instead of whole seconds. */
  retryAfterDecimal: boolean;
  operationTimings: OperationTimings;
  defaultOperationFate: OperationFate;
  tokenLifetimeSeconds: number;
  grantedRoles: string[];
  newHireReplicationSeconds: number;
  requestLogLimit: number;
  /**
   * `GET /users/{id}/chats?$filter=createdDateTime …`: `accepted`, or `refused` with the 400 Teams endpoints give
   * ("The entity property 'createdDateTime' and operationKind '…' is not allowed in $filter query."). Which
   * filters list-chats takes is undocumented; callers must survive either.
   */
  createdDateTimeFilter: CreatedDateTimeFilter;
}

export const CREATED_DATE_TIME_FILTER_MODES = ['accepted', 'refused'] as const;
export type CreatedDateTimeFilter = (typeof CREATED_DATE_TIME_FILTER_MODES)[number];

export interface SimulationOptions {
  seed: number;
  tenantRps: number;
  readRps?: number;
  operationTimings?: Partial<OperationTimings>;
  clientCertificate: ClientCredentialCertificate;
  clock?: Clock;
}

export const DEFAULT_REQUEST_LOG_LIMIT = 100_000;

export class Simulation {
  readonly clock: Clock;
  readonly tenantId: string;
  readonly secretApp: RegisteredApp & { credential: { kind: 'secret'; secret: string } };
  readonly certificateApp: RegisteredApp;
  readonly directory: Directory;
  readonly catalog = new AppCatalog();
  readonly store: ChatStore;
  readonly entra: EntraSimulator;
  readonly throttle: Throttle;
  readonly faults = new FaultBook();
  readonly log: RequestLog;
  readonly requestIds: SeededRandom;
  throttled = 0;
  throttledByKind: Record<CallKind, number> = { write: 0, read: 0 };
  private readonly initialSettings: SimulationSettings;
  private current: SimulationSettings;

  constructor(options: SimulationOptions) {
    this.clock = options.clock ?? Date.now;
    const identities = streamFor(options.seed, 'identities');
    this.tenantId = identities.guid();
    this.secretApp = {
      clientId: identities.guid(),
      displayName: 'chat-provisioner (simulated, secret)',
      servicePrincipalId: identities.guid(),
      credential: { kind: 'secret', secret: `sim8Q~${identities.text(34)}` },
    };
    this.certificateApp = {
      clientId: identities.guid(),
      displayName: 'chat-provisioner (simulated, certificate)',
      servicePrincipalId: identities.guid(),
      credential: { kind: 'certificate', certificate: options.clientCertificate },
    };
    this.initialSettings = {
      tenantRps: options.tenantRps,
      readRps: options.readRps ?? TEAMS_OTHER_CALLS_RPS,
      retryAfterDecimal: false,
      operationTimings: parseOperationTimings(options.operationTimings ?? {}, DEFAULT_OPERATION_TIMINGS),
      defaultOperationFate: { kind: 'succeed' },
      tokenLifetimeSeconds: 3599,
      grantedRoles: [...GRAPH_APP_ROLES],
      newHireReplicationSeconds: 30,
      requestLogLimit: DEFAULT_REQUEST_LOG_LIMIT,
      createdDateTimeFilter: 'accepted',
    };
    this.current = { ...this.initialSettings };
    this.directory = new Directory({
      homeTenantId: this.tenantId,
      newHireReplicationMs: this.current.newHireReplicationSeconds * 1000,
    });
    this.store = new ChatStore(
      this.tenantId,
      streamFor(options.seed, 'chat-ids'),
      streamFor(options.seed, 'operation-ids'),
    );
    this.entra = new EntraSimulator(
      {
        tenantId: this.tenantId,
        domains: ['contoso.onmicrosoft.com', 'contoso.com'],
        apps: [this.secretApp, this.certificateApp],
      },
      streamFor(options.seed, 'entra'),
    );
    this.throttle = new Throttle(this.current.tenantRps, this.clock, this.current.readRps);
    this.log = new RequestLog(this.current.requestLogLimit);
    this.requestIds = streamFor(options.seed, 'request-ids');
    this.apply(this.current);
  }

  get settings(): SimulationSettings {
    return {
      ...this.current,
      operationTimings: { ...this.current.operationTimings },
      grantedRoles: [...this.current.grantedRoles],
    };
  }

  /** Validates a partial settings patch (as JSON from the control API) and applies it whole or not at all. */
  configure(patch: unknown): SimulationSettings {
    if (patch === null || typeof patch !== 'object') throw new TypeError('config must be an object');
    const p = patch as Record<string, unknown>;
    const next: SimulationSettings = { ...this.current };
    const known = new Set([
      'tenantRps',
      'readRps',
      'retryAfterDecimal',
      'operationTimings',
      'defaultOperationFate',
      'tokenLifetimeSeconds',
      'grantedRoles',
      'newHireReplicationSeconds',
      'requestLogLimit',
      'createdDateTimeFilter',
    ]);
    const unknown = Object.keys(p).filter((k) => !known.has(k));
    if (unknown.length > 0) throw new TypeError(`unknown config keys: ${unknown.join(', ')}`);
    if (p.tenantRps !== undefined) {
      if (typeof p.tenantRps !== 'number' || !(p.tenantRps > 0)) throw new TypeError('tenantRps must be a number > 0');
      next.tenantRps = p.tenantRps;
    }
    if (p.readRps !== undefined) {
      if (typeof p.readRps !== 'number' || !(p.readRps > 0)) throw new TypeError('readRps must be a number > 0');
      next.readRps = p.readRps;
    }
    if (p.retryAfterDecimal !== undefined) {
      if (typeof p.retryAfterDecimal !== 'boolean') throw new TypeError('retryAfterDecimal must be a boolean');
      next.retryAfterDecimal = p.retryAfterDecimal;
    }
    next.operationTimings = parseOperationTimings(p.operationTimings, this.current.operationTimings);
    if (p.defaultOperationFate !== undefined) next.defaultOperationFate = parseOperationFate(p.defaultOperationFate);
    if (p.tokenLifetimeSeconds !== undefined) {
      if (typeof p.tokenLifetimeSeconds !== 'number' || !(p.tokenLifetimeSeconds >= 0)) {
        throw new TypeError('tokenLifetimeSeconds must be a number >= 0');
      }
      next.tokenLifetimeSeconds = p.tokenLifetimeSeconds;
    }
    if (p.grantedRoles !== undefined) {
      if (!Array.isArray(p.grantedRoles) || !p.grantedRoles.every((r) => typeof r === 'string')) {
        throw new TypeError('grantedRoles must be a list of strings');
      }
      next.grantedRoles = [...(p.grantedRoles as string[])];
    }
    if (p.newHireReplicationSeconds !== undefined) {
      if (typeof p.newHireReplicationSeconds !== 'number' || !(p.newHireReplicationSeconds >= 0)) {
        throw new TypeError('newHireReplicationSeconds must be a number >= 0');
      }
      next.newHireReplicationSeconds = p.newHireReplicationSeconds;
    }
    if (p.requestLogLimit !== undefined) {
      if (typeof p.requestLogLimit !== 'number' || !Number.isInteger(p.requestLogLimit) || p.requestLogLimit < 1) {
        throw new TypeError('requestLogLimit must be an integer >= 1');
      }
      next.requestLogLimit = p.requestLogLimit;
    }
    if (p.createdDateTimeFilter !== undefined) {
      const mode = p.createdDateTimeFilter;
      if (!CREATED_DATE_TIME_FILTER_MODES.some((m) => m === mode)) {
        throw new TypeError(`createdDateTimeFilter must be one of ${CREATED_DATE_TIME_FILTER_MODES.join(', ')}`);
      }
      next.createdDateTimeFilter = mode as CreatedDateTimeFilter;
    }
    this.apply(next);
    return this.settings;
  }

  /** Clears chats, operations, requests, faults, chaos, buckets and counters; settings and users only when asked. */
  reset(options: { config?: boolean; users?: boolean } = {}): void {
    this.store.reset();
    this.log.clear();
    this.log.resetCounters();
    this.faults.reset();
    this.throttle.reset();
    this.throttled = 0;
    this.throttledByKind = { write: 0, read: 0 };
    this.entra.tokensIssued = 0;
    if (options.users) {
      this.directory.reset();
      this.catalog.reset();
    }
    if (options.config) this.apply({ ...this.initialSettings });
  }

  private apply(next: SimulationSettings): void {
    const previous = this.current;
    this.current = next;
    if (next.tenantRps !== previous.tenantRps) this.throttle.setRate(next.tenantRps, 'write');
    if (next.readRps !== previous.readRps) this.throttle.setRate(next.readRps, 'read');
    if (next.requestLogLimit !== previous.requestLogLimit) this.log.setLimit(next.requestLogLimit);
    this.entra.tokenLifetimeSeconds = next.tokenLifetimeSeconds;
    this.entra.grantedRoles = [...next.grantedRoles];
    this.directory.newHireReplicationMs = next.newHireReplicationSeconds * 1000;
  }
}
