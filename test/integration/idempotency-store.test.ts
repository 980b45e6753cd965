/**
 * Idempotency (shared/core/idempotency.ts) over its port as the table store implements it, on Azurite: the
 * key records keep their layout, and concurrent duplicates converge on one request.
 */
import { TableClient } from '@azure/data-tables';
import { startAzurite, Azurite } from '../../dev/azurite';
import { AlreadyExistsError } from '../../shared/core/errors';
import {
  claimKeys,
  createOnce,
  findByExternalId,
  idempotencyKeysOf,
  type IdempotencyStore,
  storageKey,
} from '../../shared/core/idempotency';
import { newRequestId } from '../../shared/core/ids';
import { newChatRequest } from '../../shared/use-cases/intake';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { hashKey, openRequestTables, TableRequestStore } from '../../shared/storage/table-store';

let azurite: Azurite;
let serial = 0;

beforeAll(async () => {
  azurite = await startAzurite({ silent: true });
});
afterAll(async () => {
  await azurite?.stop();
});

async function freshStore(): Promise<{ store: TableRequestStore; table: TableClient }> {
  serial += 1;
  const { table, work } = openRequestTables(`Idem${serial}`, (name) =>
    TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
  );
  await Promise.all([table.createTable(), work.createTable()]);
  return { store: new TableRequestStore(table, work), table };
}

function parsed(topic: string) {
  const now = new Date();
  const result = parseProvisioningRequest(
    { chatType: 'group', topic, externalId: 'hr-4711', members: ['ana@contoso.com', 'bo@contoso.com'] },
    now,
  );
  if (!result.ok) throw new Error('fixture does not parse');
  return result.value;
}

describe('idempotency over the table store', () => {
  it('a claimed key is one record at key-<hh>/sha256(<source>\\n<value>), and a second claim carries the winner', async () => {
    // Prepare
    const { store, table } = await freshStore();
    const port: IdempotencyStore = store;
    const key = storageKey({ source: 'externalId', value: 'hr-4711' });
    const hash = hashKey(key);
    // Act
    await port.claimKey(key, { requestId: 'first', payloadHash: 'p1' });
    const second = await port.claimKey(key, { requestId: 'second', payloadHash: 'p2' }).catch((error) => error);
    // Assess
    const entity = await table.getEntity<Record<string, unknown>>(`key-${hash.slice(0, 2)}`, hash);
    expect({ requestId: entity.requestId, payloadHash: entity.payloadHash }).toEqual({
      requestId: 'first',
      payloadHash: 'p1',
    });
    expect(second).toBeInstanceOf(AlreadyExistsError);
    expect((second as AlreadyExistsError).existing).toEqual({ requestId: 'first', payloadHash: 'p1' });
    expect(await findByExternalId(port, 'hr-4711')).toBe('first');
    expect(await findByExternalId(port, 'hr-other')).toBeUndefined();
  });

  it('concurrent duplicates converge on one id and one row; the others replay it', async () => {
    const { store } = await freshStore();
    const value = parsed('Welcome');
    const hash = payloadHash(value);
    const keys = idempotencyKeysOf(value, { idempotencyKey: 'idem-1', webhookId: 'msg-1' });
    const now = new Date();

    const outcomes = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const claim = await claimKeys(keys, hash, store, newRequestId(now));
        if (claim.kind !== 'create') return claim;
        const lost = await createOnce(newChatRequest(value, hash, claim.id, now), store);
        return lost ?? { kind: 'created' as const, id: claim.id };
      }),
    );

    const ids = new Set(outcomes.map((o) => ('request' in o ? o.request.id : 'id' in o ? o.id : o.kind)));
    expect(ids.size).toBe(1);
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(1);
    expect(outcomes.every((o) => o.kind === 'created' || o.kind === 'replayed')).toBe(true);
    expect(await store.get([...ids][0]!)).toBeDefined();
  });

  it('the same key with another payload is a mismatch naming the key and the request', async () => {
    const { store } = await freshStore();
    const first = parsed('Welcome');
    const other = parsed('Welcome, again');
    const now = new Date();
    const claim = await claimKeys(idempotencyKeysOf(first, {}), payloadHash(first), store, newRequestId(now));
    if (claim.kind !== 'create') throw new Error('the first claim must create');
    await createOnce(newChatRequest(first, payloadHash(first), claim.id, now), store);

    const again = await claimKeys(idempotencyKeysOf(other, {}), payloadHash(other), store, newRequestId(now));

    expect(again).toEqual({ kind: 'mismatch', requestId: claim.id, source: 'externalId' });
  });
});
