/** `status <id>`: one request, as a readable block or as JSON. */
import { CommandContext, println } from '../context';
import { ExitCode } from '../exit-codes';
import { requestBlock } from '../request-view';

export interface StatusOptions {
  json?: boolean;
}

export async function status(id: string, options: StatusOptions, ctx: CommandContext): Promise<number> {
  const request = await ctx.api.getRequest(id);
  if (options.json) println(ctx.out, JSON.stringify(request, null, 2));
  else for (const line of requestBlock(request)) println(ctx.out, line);
  return ExitCode.ok;
}
