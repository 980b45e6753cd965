import { createControl, SimulatorControl } from './control';
import type { DirectoryUserInput } from './directory';
import { applyState, captureState, readSimulatorState, StateFile } from './persistence';
import { SimulatorServer } from './server';
import { Simulation } from './simulation';
import { createClientCredentialCertificate, createServerCertificate } from './tls';

/** An HTTPS simulator of the Entra ID token endpoint and the Microsoft Graph chat endpoints, for tests and local runs. */

export interface SimulatorOptions {
  /** 0 / undefined = a free port; the listener always binds 127.0.0.1 only. */
  port?: number;
  /** Deterministic ids and random faults (default 1). */
  seed?: number;
  /** Token bucket per (tenant, appId) for creates (POST /chats); default 30; burst = max(1, rps). */
  tenantRps?: number;
  /**
   * Token bucket per (tenant, appId) for reads (GET chat, a member's chats, operations), Graph's separate
   * "Other GET API calls" row. Default: tenantRps (both of Graph's rows are 30), so raising one raises both.
   */
  readRps?: number;
  /** Status per GET of an operation: notStarted → inProgress → succeeded; defaults 1 and 2. */
  operationTimings?: { inProgressAfterPolls?: number; succeededAfterPolls?: number };
  quiet?: boolean;
  /**
   * A file that keeps the simulator's users, apps, chats and operations across restarts (dev/simulator/persistence.ts):
   * read at start when it exists, rewritten before every answer that follows a change. Omitted: nothing is kept.
   */
  stateFile?: string;
  /** Users added when the simulator starts empty (no saved state): the local run's example people. */
  initialUsers?: DirectoryUserInput[];
}

export interface GraphSimulator {
  /** https://localhost:PORT */
  url: string;
  /** Same origin; the Graph client uses baseUrl = this, version v1.0. */
  graphBaseUrl: string;
  /** Same origin; pass as authorityHost with disableInstanceDiscovery: true. */
  authorityHost: string;
  /** PEM of the self-signed server certificate (CN/SAN localhost, 127.0.0.1, ::1). */
  ca: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** A second registered app that authenticates with a certificate; pem = certificate + private key. */
  certificate: { clientId: string; pem: string };
  control: SimulatorControl;
  stop(): Promise<void>;
}

export type { SimulatorControl, SimulatorConfig, SimulatorConfigPatch, SimChat, SimOperation } from './control';
export type { FaultScript, FaultScriptInput, FaultAction, FaultMatch, ChaosSettings } from './faults';
export type { RecordedRequest, SimulatorStats } from './request-log';
export type { DirectoryUser, DirectoryUserInput } from './directory';

export async function startGraphSimulator(options: SimulatorOptions = {}): Promise<GraphSimulator> {
  const tenantRps = options.tenantRps ?? 30;
  if (!(tenantRps > 0)) throw new RangeError(`tenantRps must be > 0, got ${tenantRps}`);
  const readRps = options.readRps ?? tenantRps;
  if (!(readRps > 0)) throw new RangeError(`readRps must be > 0, got ${readRps}`);
  const serverCertificate = createServerCertificate();
  const clientCertificate = createClientCredentialCertificate('chat-provisioner-simulator-client');
  const sim = new Simulation({
    seed: options.seed ?? 1,
    tenantRps,
    readRps,
    operationTimings: options.operationTimings,
    clientCertificate,
  });
  const saved = options.stateFile ? readSimulatorState(options.stateFile) : undefined;
  if (saved) applyState(sim, saved);
  else for (const user of options.initialUsers ?? []) sim.directory.upsert(user);
  const control = createControl(sim);
  const stateFile = options.stateFile ? new StateFile(options.stateFile) : undefined;
  let port = 0;
  const save = (): void => {
    if (stateFile && port) stateFile.save(captureState(sim, port));
  };
  const server = new SimulatorServer(sim, control, serverCertificate, save);
  const running = await server.listen(options.port ?? 0);
  port = running.port;
  save();
  const url = `https://localhost:${running.port}`;
  if (!options.quiet) {
    console.error(`[graph-simulator] Entra + Graph simulator on ${url} (127.0.0.1 only), tenant ${sim.tenantId}`);
  }
  let stopped = false;
  return {
    url,
    graphBaseUrl: url,
    authorityHost: url,
    ca: serverCertificate.certPem,
    tenantId: sim.tenantId,
    clientId: sim.secretApp.clientId,
    clientSecret: sim.secretApp.credential.secret,
    certificate: { clientId: sim.certificateApp.clientId, pem: clientCertificate.pem },
    control,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await running.close();
      save();
    },
  };
}
