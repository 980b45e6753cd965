import { State } from '../core/model';
import { COUNT_LIMIT, type OpsSummary } from '../http/ops-schemas';
import type { Services } from '../platform/composition-root';
import { TableFleetRateStore } from '../storage/fleet-rate-table-store';

/**
 * GET /api/ops/summary: what the ops page shows at the top, read through the store and the shared rate
 * row, never written: requests per state (rows of that state's partition, counted up to a limit), the queue and poison
 * depths, and what the Graph rate limiter is doing.
 */

const STATES = [State.queued, State.creating, State.pending, State.succeeded, State.failed] as const;

function iso(ms: number): string | undefined {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}

export async function opsSummary(svc: Services, now = new Date()): Promise<OpsSummary> {
  await svc.ready();
  const [counts, queue, poison, fleet] = await Promise.all([
    Promise.all(STATES.map((state) => svc.store.countState(state, COUNT_LIMIT))),
    svc.queueClient.getProperties(),
    svc.poisonQueue.getProperties(),
    new TableFleetRateStore(svc.workTable).read(),
  ]);
  const states = Object.fromEntries(STATES.map((state, i) => [state, counts[i]!])) as OpsSummary['states'];
  const maxRate = svc.config.graph.maxRps;
  const limiter: OpsSummary['limiter'] = { rate: maxRate, maxRate, shared: false };
  if (fleet) {
    limiter.rate = Math.round(fleet.state.rate * 100) / 100;
    limiter.shared = true;
    if (fleet.state.pausedUntil > now.getTime()) limiter.pausedUntil = iso(fleet.state.pausedUntil);
    const throttled = iso(fleet.state.lastDecreaseAt);
    if (throttled) limiter.lastThrottledAt = throttled;
    const increased = iso(fleet.state.lastIncreaseAt);
    if (increased) limiter.lastIncreaseAt = increased;
  }
  return {
    states,
    countLimit: COUNT_LIMIT,
    queue: {
      name: svc.config.queueName,
      approximateDepth: queue.approximateMessagesCount ?? 0,
      poisonDepth: poison.approximateMessagesCount ?? 0,
    },
    limiter,
    checkedAt: now.toISOString(),
  };
}
