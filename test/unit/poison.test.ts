/**
 * The poison function's one rule that needs no storage emulator: a poisoned message whose row is missing.
 * Intake sends a message before it inserts the row, so the row may land after the worker gave up on the
 * message (storage failed both); the rest of the poison rules run against Azurite (callbacks, worker-host).
 */
import { newRequestId } from '../../shared/core/ids';
import { MISSING_ROW_PATIENCE_MS } from '../../shared/core/queue/message';
import { failPoisoned } from '../../shared/use-cases/poison';
import { MemoryRequestStore } from '../support/memory-store';

const NOW = new Date('2026-11-24T12:00:00.000Z');

function setup() {
  const store = new MemoryRequestStore();
  const logged: string[] = [];
  const deps = { store, log: (level: string, event: string) => logged.push(`${level} ${event}`), now: () => NOW };
  return { store, logged, deps };
}

describe('failPoisoned: a message whose row is not in the table', () => {
  it('sent by intake under 10 minutes ago: an unsent marker, so the timer sends a message if the row lands', async () => {
    // Prepare
    const { store, logged, deps } = setup();
    const id = newRequestId(NOW);
    const sentAt = new Date(NOW.getTime() - 60_000).toISOString();

    // Act
    const result = await failPoisoned({ id, attempt: 0, sentAt }, deps);

    // Assess
    expect(result).toBe('unknown-request');
    expect([...store.unsent.keys()]).toEqual([id]);
    expect(store.unsent.get(id)).toEqual(NOW);
    expect(logged).toEqual(['warn poison.rowNotYetWritten']);
  });

  it('older, or without sentAt: nothing to do', async () => {
    // Prepare
    const { store, logged, deps } = setup();
    const old = new Date(NOW.getTime() - MISSING_ROW_PATIENCE_MS).toISOString();

    // Act
    const results = [
      await failPoisoned({ id: newRequestId(NOW), attempt: 0, sentAt: old }, deps),
      await failPoisoned({ id: newRequestId(NOW), attempt: 2 }, deps),
    ];

    // Assess
    expect(results).toEqual(['unknown-request', 'unknown-request']);
    expect(store.unsent.size).toBe(0);
    expect(logged).toEqual([]);
  });
});
