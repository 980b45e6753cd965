import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { State } from './model';
import type { Services } from './services';
import { TableFleetRateStore } from './throttle';

/**
 * GET /api/ops/summary: what the ops page shows at the top, read through the store and the shared rate
 * row, never written: requests per state (index entries, counted up to a limit), the queue and poison
 * depths, and what the Graph rate limiter is doing.
 */

extendZodWithOpenApi(z);

/** Counting stops here: finished states grow with history, and the page only needs "a lot". */
export const COUNT_LIMIT = 10_000;

const StateCountSchema = z.object({
  count: z.number().int().min(0).openapi({ description: 'Index entries of this state, at most `countLimit`.' }),
  capped: z.boolean().openapi({ description: 'true: there are at least `countLimit`; counting stopped there.' }),
});

export const OpsSummarySchema = z
  .object({
    states: z.object({
      queued: StateCountSchema,
      creating: StateCountSchema,
      pending: StateCountSchema,
      succeeded: StateCountSchema,
      failed: StateCountSchema,
    }),
    countLimit: z.number().int(),
    queue: z.object({
      name: z.string(),
      approximateDepth: z.number().int().min(0),
      poisonDepth: z.number().int().min(0).openapi({ description: 'Messages in the poison queue; should be 0.' }),
    }),
    limiter: z.object({
      rate: z.number().openapi({ description: 'The shared send rate to Graph now, requests per second (whole app).' }),
      maxRate: z.number().openapi({ description: 'GRAPH_MAX_RPS: where the rate starts and what it climbs back to.' }),
      pausedUntil: z
        .string()
        .optional()
        .openapi({ description: 'Set while every worker is paused for a 429 Retry-After: until when.' }),
      lastThrottledAt: z.string().optional().openapi({
        description: 'When a Graph 429 last cut the rate (429s within a second of a cut only extend the pause).',
      }),
      lastIncreaseAt: z.string().optional(),
      shared: z.boolean().openapi({
        description:
          'false: no worker has written the shared rate row yet (nothing sent to Graph since the store was made); the values are the starting ones.',
      }),
    }),
    checkedAt: z.string(),
  })
  .openapi('OpsSummary', {
    description:
      'Counts per state, queue depths and the Graph rate limiter, for the ops page. Counts are index entries: approximate while requests move.',
  });

export type OpsSummary = z.infer<typeof OpsSummarySchema>;

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
