import type { Config } from '../../platform/config';
import type { App, GraphCreateChatBody, Member } from '../model';
import type { FieldError } from './fields';

/** What parsing a provisioning request gives, and the options it is parsed with. */

export interface ParsedRequest {
  /** The canonical Graph create-chat body, sent as it is. */
  graphBody: GraphCreateChatBody;
  externalId?: string;
  callbackUrl?: string;
  /** ISO 8601 in UTC (`toISOString()`), normalised from whatever offset was given. */
  notBefore?: string;
  members: Member[];
  apps?: App[];
  chatType: 'oneOnOne' | 'group';
  topic?: string;
}

export type ParseResult = { ok: true; value: ParsedRequest } | { ok: false; errors: FieldError[] };

export interface ParseOptions {
  /** The local run (ALLOW_LOCALHOST_CALLBACKS): http callbacks to a loopback host are allowed. */
  allowLoopbackHttpCallback?: boolean;
  /**
   * GRAPH_BASE_URL: binds must name the Graph host of its cloud, and compact binds are written there.
   * Without it (e.g. the CLI's check before upload) binds of any Graph cloud pass and compact binds are global.
   */
  graphBaseUrl?: string;
  /** GRAPH_TENANT_ID: a member with another tenantId is federated and must be an owner. Unknown: not checked. */
  appTenantId?: string;
}

/** The options the service's own configuration gives (the intake functions parse with these). */
export function parseOptionsFor(config: Pick<Config, 'graph' | 'callback'>): ParseOptions {
  const options: ParseOptions = {
    allowLoopbackHttpCallback: config.callback.allowLocalhost,
    graphBaseUrl: config.graph.baseUrl,
  };
  const tenantId = config.graph.credential.tenantId;
  if (tenantId !== undefined) options.appTenantId = tenantId;
  return options;
}
