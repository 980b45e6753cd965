import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChatStoreSnapshot } from './chat-store';
import type { DirectoryUser } from './directory';
import type { Simulation } from './simulation';

/**
 * The simulator's state on disk, for `npm start`: its port, users, federated tenants, Teams apps, chats and
 * operations survive a restart (or a crash) of the local run, so an operation URL the service stored still
 * answers, on the same port, and a chat made before the restart is still there (a retry finds it, as in Teams).
 *
 * The file is rewritten (to a temporary file, then renamed over the old one) before every answer that follows a
 * change, so what a caller was told is on disk before the caller hears it: killing the process at any moment loses
 * nothing a caller saw. Not kept: settings (`/_sim/config`), faults, chaos, the request log, rate buckets and
 * counters; they start fresh, as after `POST /_sim/reset`.
 */

export const SIMULATOR_STATE_VERSION = 1;

export interface SimulatorState {
  version: typeof SIMULATOR_STATE_VERSION;
  /** The port the simulator listened on: operation URLs stored by the service name it. */
  port: number;
  users: DirectoryUser[];
  federatedTenantIds: string[];
  teamsAppIds: string[];
  store: ChatStoreSnapshot;
}

/** Reads a state file; undefined when there is none. A file that cannot be used is an error naming the file. */
export function readSimulatorState(file: string): SimulatorState | undefined {
  if (!existsSync(file)) return undefined;
  let state: Partial<SimulatorState>;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as Partial<SimulatorState>;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); delete it to start the simulator empty`, {
      cause: error,
    });
  }
  if (
    state.version !== SIMULATOR_STATE_VERSION ||
    typeof state.port !== 'number' ||
    !Array.isArray(state.users) ||
    !Array.isArray(state.federatedTenantIds) ||
    !Array.isArray(state.teamsAppIds) ||
    !state.store ||
    !Array.isArray(state.store.chats) ||
    !Array.isArray(state.store.operations)
  ) {
    throw new Error(`${file} is not a simulator state (version ${SIMULATOR_STATE_VERSION}); delete it to start empty`);
  }
  return state as SimulatorState;
}

export function captureState(sim: Simulation, port: number): SimulatorState {
  return {
    version: SIMULATOR_STATE_VERSION,
    port,
    users: sim.directory.list(),
    federatedTenantIds: sim.directory.federatedTenantIds(),
    teamsAppIds: sim.catalog.list(),
    store: sim.store.snapshot(),
  };
}

/** Puts a saved state into a fresh simulation (through the directory's and catalog's own upsert and add). */
export function applyState(sim: Simulation, state: SimulatorState): void {
  sim.directory.reset();
  for (const user of state.users) sim.directory.upsert(user);
  for (const tenantId of state.federatedTenantIds) sim.directory.addFederatedTenant(tenantId);
  sim.catalog.reset();
  for (const id of state.teamsAppIds) sim.catalog.add(id);
  sim.store.restore(state.store);
}

/** Writes the state when it changed since the last write; atomic (a crash leaves the old or the new file). */
export class StateFile {
  private last = '';

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  save(state: SimulatorState): void {
    const text = JSON.stringify(state);
    if (text === this.last) return;
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.file);
    this.last = text;
  }
}
