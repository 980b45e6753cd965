import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateChatCommand } from '../../dev/simulator/chat-rules';
import {
  applyState,
  captureState,
  readSimulatorState,
  SIMULATOR_STATE_VERSION,
  StateFile,
} from '../../dev/simulator/persistence';
import { Simulation } from '../../dev/simulator/simulation';
import { createClientCredentialCertificate } from '../../dev/simulator/tls';

const certificate = createClientCredentialCertificate('persistence-test');
const simulation = (): Simulation => new Simulation({ seed: 7, tenantRps: 30, clientCertificate: certificate });

function group(topic: string): CreateChatCommand {
  const member = (userId: string) => ({
    userId,
    tenantId: 't',
    roles: ['owner' as const],
    email: `${userId}@contoso.com`,
    displayName: userId,
  });
  return { chatType: 'group', topic, members: [member('a'), member('b'), member('c')] };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sim-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('simulator state across a restart', () => {
  it('keeps users, tenants, apps, chats and operations, and makes no id twice', () => {
    const before = simulation();
    before.directory.upsert({ userPrincipalName: 'new.person@contoso.com', displayName: 'New Person' });
    before.directory.addFederatedTenant('11111111-2222-4333-8444-555555555555');
    before.catalog.add('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    const chat = before.store.create(group('made before'), 1, 1000).chat;
    const app = { teamsAppId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', resourceSpecificPermissions: [] };
    const operation = before.store.startOperation({ ...group('pending'), app }, 2, 2000, { kind: 'stall' });

    // Through JSON, as on disk.
    const state = JSON.parse(JSON.stringify(captureState(before, 4321))) as ReturnType<typeof captureState>;
    expect(state.port).toBe(4321);
    const after = simulation();
    applyState(after, state);

    expect(after.directory.find('new.person@contoso.com', 0)?.displayName).toBe('New Person');
    expect(after.directory.federatedTenantIds()).toContain('11111111-2222-4333-8444-555555555555');
    expect(after.catalog.has('AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE')).toBe(true);
    expect(after.store.get(chat.id)?.topic).toBe('made before');
    expect(after.store.chatsOf('a').map((c) => c.id)).toEqual([chat.id]);
    expect(after.store.operation(operation.id)?.fate).toEqual({ kind: 'stall' });
    // The operation carries on where it stood: told to succeed, its next poll makes the chat.
    after.store.setFate(operation.id, { kind: 'succeed' }, 3000);
    for (let i = 0; i < 3; i += 1)
      after.store.poll(operation.chatId, operation.id, 3000, after.settings.operationTimings);
    expect(after.store.get(operation.chatId)?.topic).toBe('pending');

    // The id streams continue: the next ids are the ones the first run would have made, not repeats.
    const nextBefore = before.store.create(group('next'), 3, 4000).chat.id;
    const nextAfter = after.store.create(group('next'), 3, 4000).chat.id;
    expect(nextAfter).toBe(nextBefore);
    expect(nextAfter).not.toBe(chat.id);
    expect(after.store.all()).toHaveLength(3);
  });
});

describe('readSimulatorState', () => {
  it('is undefined without a file', () => {
    expect(readSimulatorState(join(dir, 'state.json'))).toBeUndefined();
  });

  it('names the file and the way out when the file cannot be used', () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, '{"version":');
    expect(() => readSimulatorState(file)).toThrow(`${file} is not valid JSON`);
    expect(() => readSimulatorState(file)).toThrow('delete it');
    writeFileSync(file, JSON.stringify({ version: SIMULATOR_STATE_VERSION + 1 }));
    expect(() => readSimulatorState(file)).toThrow(`${file} is not a simulator state`);
  });
});

describe('StateFile', () => {
  it('writes when the state changed, and only then', () => {
    const file = join(dir, 'nested', 'state.json');
    const saver = new StateFile(file);
    const sim = simulation();
    saver.save(captureState(sim, 1));
    expect(readSimulatorState(file)?.port).toBe(1);
    rmSync(file);
    saver.save(captureState(sim, 1));
    expect(existsSync(file)).toBe(false);
    sim.directory.upsert({ userPrincipalName: 'someone@contoso.com' });
    saver.save(captureState(sim, 1));
    expect(readSimulatorState(file)?.users.map((u) => u.userPrincipalName)).toContain('someone@contoso.com');
  });
});
