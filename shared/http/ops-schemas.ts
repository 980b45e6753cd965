import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

/** The answer of GET /api/ops/summary, for OpenAPI and the tests (no storage code: openapi.ts imports it). */

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
      'Counts per state, queue depths and the Graph rate limiter, for the ops page. Counts are the rows in the partition of each state, up to a limit: approximate while requests move.',
  });

export type OpsSummary = z.infer<typeof OpsSummarySchema>;
