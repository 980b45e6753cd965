import type { GraphCreateChatBody } from '../shared/core/model';
import { parseProvisioningRequest } from '../shared/core/request/parse';

/**
 * The requests every benchmark sends: group chats of three licensed simulator users, each with a
 * unique topic (so duplicate chats can be counted by topic) and a unique externalId (idempotency).
 * Without installedApps Graph answers 201, so a request is final as soon as the worker hears back.
 */

export interface CompactRequest {
  chatType: 'group';
  topic: string;
  externalId: string;
  members: (string | { user: string; role: 'owner' })[];
  apps?: { teamsAppId: string }[];
}

/** A Teams app in the simulator's catalog: a request that installs it is answered 202 + an operation. */
export const CATALOG_APP_ID = '05F59CEC-A742-4A50-A62E-202A57E478A4';

export function compactRequest(run: string, index: number, options: { withApp?: boolean } = {}): CompactRequest {
  const base = (index % 300_000) * 3;
  return {
    chatType: 'group',
    topic: `Bench ${run} ${index}`,
    externalId: `bench-${run}-${index}`,
    members: [
      `user${base + 1}@contoso.com`,
      { user: `user${base + 2}@contoso.com`, role: 'owner' },
      `user${base + 3}@contoso.com`,
    ],
    ...(options.withApp ? { apps: [{ teamsAppId: CATALOG_APP_ID }] } : {}),
  };
}

/** The Graph body the service would send for the same request (so the baselines post the same bytes). */
export function graphBodyOf(request: CompactRequest): GraphCreateChatBody {
  const parsed = parseProvisioningRequest(request, new Date());
  if (!parsed.ok) throw new Error(`bench request is invalid: ${JSON.stringify(parsed.errors)}`);
  return parsed.value.graphBody;
}
