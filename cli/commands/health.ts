/** `health`: `GET /api/health`, shown as label/value lines (or JSON). Exit 0 healthy, 3 otherwise. */
import { CommandContext, println } from '../context';
import { ExitCode } from '../exit-codes';
import { formatBlock } from '../table';

export interface HealthOptions {
  json?: boolean;
}

export async function health(options: HealthOptions, ctx: CommandContext): Promise<number> {
  const answer = await ctx.api.health();
  const body = answer.body;
  const reported = (body as { status?: unknown } | undefined)?.status;
  const healthy = answer.status === 200 && reported !== 'unhealthy';
  if (options.json) {
    println(ctx.out, JSON.stringify(body ?? null, null, 2));
  } else {
    println(ctx.out, `${ctx.api.baseUrl} is ${healthy ? 'healthy' : 'unhealthy'} (HTTP ${answer.status})`);
    if (body !== null && typeof body === 'object') {
      const { warnings, ...rest } = body as Record<string, unknown>;
      for (const line of formatBlock(flatten(rest))) println(ctx.out, `  ${line}`);
      if (Array.isArray(warnings)) for (const warning of warnings) println(ctx.out, `  ! ${String(warning)}`);
    }
  }
  return healthy ? ExitCode.ok : ExitCode.unavailable;
}

/** `{storage: {ok: true}}` → `storage.ok  true`: the report's shape may grow without this code changing. */
export function flatten(value: Record<string, unknown>, prefix = ''): [string, string][] {
  const entries: [string, string][] = [];
  for (const [key, item] of Object.entries(value)) {
    const label = prefix === '' ? key : `${prefix}.${key}`;
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      entries.push(...flatten(item as Record<string, unknown>, label));
    } else if (item !== undefined) {
      entries.push([label, typeof item === 'string' ? item : JSON.stringify(item)]);
    }
  }
  return entries;
}
