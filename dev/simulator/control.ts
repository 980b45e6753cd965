import { json, SimAnswer } from './answer';
import { MemberRole } from './chat-rules';
import { StoredChat, StoredOperation } from './chat-store';
import { DirectoryUser, DirectoryUserInput } from './directory';
import { ChaosSettings, FaultScript, FaultScriptInput } from './faults';
import { OperationFate, OperationTimings, parseOperationFate } from './operations';
import { RecordedRequest, SimulatorStats } from './request-log';
import { Simulation, SimulationSettings } from './simulation';

/** The test-facing control surface: the same operations in-process (SimulatorControl) and over HTTP under /_sim. */

export interface SimChat {
  id: string;
  chatType: string;
  topic: string | null;
  members: { userId: string; roles: MemberRole[]; tenantId: string }[];
  createdDateTime: string;
  createdByRequestSeq: number;
  createdByOperationId?: string;
  installedAppIds: string[];
}

export interface SimOperation {
  id: string;
  chatId: string;
  fate: OperationFate;
  polls: number;
  lastStatus: string;
  createdByRequestSeq: number;
}

/** The settings in force; `configure` changes them at run time. */
export type SimulatorConfig = SimulationSettings;

export interface SimulatorConfigPatch {
  tenantRps?: number;
  readRps?: number;
  retryAfterDecimal?: boolean;
  operationTimings?: Partial<OperationTimings>;
  /** A fate name (`succeed`, `failed`, `stall`, `vanish`, `invalid`, `unknownFutureValue`) or `{fate, error?, futureValue?}`. */
  defaultOperationFate?: string | { fate: string; error?: { code: string; message: string }; futureValue?: string };
  tokenLifetimeSeconds?: number;
  grantedRoles?: string[];
  newHireReplicationSeconds?: number;
  requestLogLimit?: number;
  /** `refused`: list-chats answers 400 to any `$filter` on `createdDateTime`, as Teams endpoints do for some operators. */
  createdDateTimeFilter?: 'accepted' | 'refused';
}

export type OperationFateInput = NonNullable<SimulatorConfigPatch['defaultOperationFate']>;

export interface SimulatorControl {
  /** Fault for the next `count` (default 1) matching calls. */
  addFault(script: FaultScriptInput): FaultScript;
  faults(): FaultScript[];
  clearFaults(): void;
  /** Seeded random faults; `{ rate: 0 }` turns them off. */
  setChaos(settings: Partial<ChaosSettings>): ChaosSettings;
  /** Requests received (not /_sim calls), oldest first; `sinceSeq` keeps those with a larger seq. */
  requests(sinceSeq?: number): RecordedRequest[];
  clearRequests(): void;
  chats(): { count: number; chats: SimChat[] };
  operations(): SimOperation[];
  setOperationFate(operationId: string, fate: OperationFateInput): SimOperation;
  stats(): SimulatorStats;
  /** Ids (`uti`) of the access tokens the simulated Entra issued. */
  issuedTokenIds(): string[];
  config(): SimulatorConfig;
  configure(patch: SimulatorConfigPatch): SimulatorConfig;
  users(): DirectoryUser[];
  upsertUsers(users: DirectoryUserInput | DirectoryUserInput[]): DirectoryUser[];
  addFederatedTenant(tenantId: string): void;
  addTeamsApp(teamsAppId: string): void;
  /** Clears chats, operations, requests, faults and chaos; settings and users too only when asked. */
  reset(options?: { config?: boolean; users?: boolean }): void;
}

function simChat(chat: StoredChat): SimChat {
  return {
    id: chat.id,
    chatType: chat.chatType,
    topic: chat.topic,
    members: chat.members.map((m) => ({ userId: m.userId, roles: [...m.roles], tenantId: m.tenantId })),
    createdDateTime: new Date(chat.createdAtMs).toISOString(),
    createdByRequestSeq: chat.createdByRequestSeq,
    ...(chat.createdByOperationId ? { createdByOperationId: chat.createdByOperationId } : {}),
    installedAppIds: [...chat.installedAppIds],
  };
}

function simOperation(operation: StoredOperation): SimOperation {
  return {
    id: operation.id,
    chatId: operation.chatId,
    fate: operation.fate,
    polls: operation.polls,
    lastStatus: operation.lastStatus,
    createdByRequestSeq: operation.requestSeq,
  };
}

export function createControl(sim: Simulation): SimulatorControl {
  return {
    addFault: (script) => sim.faults.add(script),
    faults: () => sim.faults.list(),
    clearFaults: () => sim.faults.clear(),
    setChaos: (settings) => sim.faults.setChaos(settings),
    requests: (sinceSeq) => {
      const all = sim.log.list();
      return sinceSeq === undefined ? all : all.filter((r) => r.seq > sinceSeq);
    },
    clearRequests: () => sim.log.clear(),
    chats: () => {
      const chats = sim.store.all().map(simChat);
      return { count: chats.length, chats };
    },
    operations: () => sim.store.operations().map(simOperation),
    setOperationFate: (operationId, fate) => {
      const updated = sim.store.setFate(operationId, parseOperationFate(fate), sim.clock());
      if (!updated) throw new RangeError(`no operation '${operationId}'`);
      return simOperation(updated);
    },
    issuedTokenIds: () => [...sim.entra.issuedTokenIds],
    stats: () => ({
      requests: { total: sim.log.total, byRoute: structuredClone(sim.log.byRoute) },
      chatsCreated: sim.store.chatsCreated,
      operationsStarted: sim.store.operations().length,
      tokensIssued: sim.entra.tokensIssued,
      throttled: sim.throttled,
      throttledByKind: { ...sim.throttledByKind },
      responses429: Object.values(sim.log.byRoute).reduce((sum, byStatus) => sum + (byStatus['429'] ?? 0), 0),
      faultsFired: structuredClone(sim.faults.fired),
    }),
    config: () => sim.settings,
    configure: (patch) => sim.configure(patch),
    users: () => sim.directory.list(),
    upsertUsers: (users) => (Array.isArray(users) ? users : [users]).map((u) => sim.directory.upsert(u)),
    addFederatedTenant: (tenantId) => sim.directory.addFederatedTenant(tenantId),
    addTeamsApp: (teamsAppId) => sim.catalog.add(teamsAppId),
    reset: (options) => sim.reset(options),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A user, a list of users, or `{users?, federatedTenantIds?}`. */
function usersFromBody(control: SimulatorControl, body: unknown): DirectoryUserInput[] {
  if (Array.isArray(body)) return body as DirectoryUserInput[];
  if (!isObject(body)) throw new TypeError('body must be a user, a list of users, or {users, federatedTenantIds}');
  if ('userPrincipalName' in body) return [body as unknown as DirectoryUserInput];
  if (body.federatedTenantIds !== undefined) {
    if (!Array.isArray(body.federatedTenantIds) || !body.federatedTenantIds.every((t) => typeof t === 'string')) {
      throw new TypeError('federatedTenantIds must be a list of tenant ids');
    }
    for (const tenantId of body.federatedTenantIds as string[]) control.addFederatedTenant(tenantId);
  }
  if (body.users === undefined) return [];
  if (!Array.isArray(body.users)) throw new TypeError('users must be a list');
  return body.users as DirectoryUserInput[];
}

/** `/_sim/...` over HTTP; answers plain JSON, 400 `{error}` on bad input, 404 for unknown routes. */
export function handleControlCall(control: SimulatorControl, method: string, url: URL, body: unknown): SimAnswer {
  const route = `${method} ${url.pathname.replace(/\/+$/, '')}`;
  try {
    switch (route) {
      case 'GET /_sim/faults':
        return json(200, { faults: control.faults() });
      case 'POST /_sim/faults':
        return json(201, control.addFault(body as FaultScriptInput));
      case 'DELETE /_sim/faults':
        control.clearFaults();
        return json(200, { faults: [] });
      case 'POST /_sim/chaos':
        return json(200, control.setChaos((body ?? {}) as Partial<ChaosSettings>));
      case 'GET /_sim/requests': {
        const since = url.searchParams.get('sinceSeq');
        return json(200, control.requests(since === null ? undefined : Number(since)));
      }
      case 'DELETE /_sim/requests':
        control.clearRequests();
        return json(200, []);
      case 'GET /_sim/chats':
        return json(200, control.chats());
      case 'GET /_sim/operations':
        return json(200, { operations: control.operations() });
      case 'GET /_sim/stats':
        return json(200, control.stats());
      case 'GET /_sim/config':
        return json(200, control.config());
      case 'POST /_sim/config':
        return json(200, control.configure((body ?? {}) as SimulatorConfigPatch));
      case 'GET /_sim/users':
        return json(200, { users: control.users() });
      case 'POST /_sim/users':
        return json(200, { users: control.upsertUsers(usersFromBody(control, body)) });
      case 'POST /_sim/apps': {
        if (!isObject(body) || typeof body.id !== 'string')
          throw new TypeError('body must be {"id": "<teams app id>"}');
        control.addTeamsApp(body.id);
        return json(200, { id: body.id });
      }
      case 'POST /_sim/reset': {
        const options = isObject(body) ? { config: body.config === true, users: body.users === true } : {};
        control.reset(options);
        return json(200, { reset: true, ...options });
      }
    }
    const operation = /^POST \/_sim\/operations\/([^/]+)$/.exec(route);
    if (operation?.[1]) {
      return json(200, control.setOperationFate(decodeURIComponent(operation[1]), body as OperationFateInput));
    }
    return json(404, { error: `no control route ${route}` });
  } catch (error) {
    return json(error instanceof RangeError && /no operation/.test(error.message) ? 404 : 400, {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
