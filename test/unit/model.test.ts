import { canTransition, IllegalTransitionError, State, STATES, toResource } from '../../shared/core/model';
import { transition } from '../../shared/core/request-store';
import { MemoryRequestStore } from '../support/memory-store';

describe('the state map', () => {
  it('allows exactly the documented moves', () => {
    const allowed = STATES.flatMap((from) =>
      STATES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'queued→queued',
        'queued→creating',
        'queued→failed',
        'creating→queued',
        'creating→creating',
        'creating→succeeded',
        'creating→pending',
        'creating→failed',
        'pending→pending',
        'pending→succeeded',
        'pending→failed',
        'failed→queued',
      ].sort(),
    );
  });

  it('transition() refuses an illegal move before writing', async () => {
    // Prepare
    const store = new MemoryRequestStore();
    const created = await store.create(request(State.succeeded));
    // Act / Assess
    await expect(transition(store, created, State.queued, {}, new Date())).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    expect((await store.get(created.value.id))?.value.state).toBe(State.succeeded);
  });

  it('transition() is conditional: the second writer with the same ETag loses', async () => {
    const store = new MemoryRequestStore();
    const created = await store.create(request(State.queued));
    await transition(store, created, State.creating, { attempts: 1 }, new Date());
    await expect(transition(store, created, State.creating, { attempts: 1 }, new Date())).rejects.toThrow(/changed/);
  });

  it('transition() removes fields set to undefined and toResource hides internals', async () => {
    const store = new MemoryRequestStore();
    const created = await store.create({ ...request(State.queued), nextAttemptAt: '2026-01-01T00:00:00Z' });
    const moved = await transition(store, created, State.creating, { nextAttemptAt: undefined }, new Date());
    expect('nextAttemptAt' in moved.value).toBe(false);
    const resource = toResource({ ...moved.value, outcomeUnknownSince: 'x', transientFailures: 2 });
    expect(Object.keys(resource)).not.toEqual(expect.arrayContaining(['graphBody']));
    expect(resource).not.toHaveProperty('payloadHash');
    expect(resource).not.toHaveProperty('outcomeUnknownSince');
  });
});

function request(state: State) {
  return {
    id: '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
    state,
    chatType: 'group' as const,
    members: [],
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    attempts: 0,
    graphBody: { chatType: 'group' as const, members: [] },
    payloadHash: 'h',
  };
}
