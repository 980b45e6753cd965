import { SimAnswer } from './answer';
import { EntraSimulator } from './entra';
import { ChatEndpointsDeps, GraphCall, routeChatCall } from './graph-chats';
import { codeForStatus, graphError } from './graph-errors';
import { CallKind, retryAfterValue, Throttle } from './throttle';

/** Graph's front door: bearer token, then the per-(tenant, app, kind of call) throttle, then the chat endpoints. */

export interface GraphGatewayDeps extends ChatEndpointsDeps {
  entra: EntraSimulator;
  throttle: Throttle;
  retryAfterDecimal(): boolean;
  onThrottled(kind: CallKind): void;
}

const WWW_AUTHENTICATE =
  'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

export function handleGraphCall(call: GraphCall, authorization: string | undefined, deps: GraphGatewayDeps): SimAnswer {
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  if (!bearer) {
    return graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', call.ids, {
      'www-authenticate': WWW_AUTHENTICATE,
    });
  }
  const check = deps.entra.verifyAccessToken(bearer, call.now);
  if (!check.ok)
    return graphError(401, 'InvalidAuthenticationToken', check.message, call.ids, {
      'www-authenticate': WWW_AUTHENTICATE,
    });

  // Reads and writes have separate budgets (Graph's Teams limits table): a throttled read says nothing about creates.
  const kind: CallKind = call.method === 'GET' ? 'read' : 'write';
  const take = deps.throttle.take(check.claims.tid, check.claims.appid, kind);
  if (!take.allowed) {
    deps.onThrottled(kind);
    const { code } = codeForStatus(429);
    return graphError(
      429,
      code,
      `Too many requests from this application in this tenant (${kind === 'read' ? 'Other GET API calls for Microsoft Teams' : 'Other API calls for Microsoft Teams'}). Please retry after the time in the Retry-After header.`,
      call.ids,
      { 'retry-after': retryAfterValue(take.waitMs, deps.retryAfterDecimal()) },
    );
  }

  const route = routeChatCall(call, deps);
  if (!('run' in route)) return route;
  if (!route.requiredRoles.some((role) => check.claims.roles.includes(role))) {
    if (route.forbidden) return graphError(403, route.forbidden.code, route.forbidden.message, call.ids);
    return graphError(
      403,
      'Forbidden',
      `Missing role permissions on the request. API requires one of '${route.requiredRoles.join(', ')}'. Roles on the request '${check.claims.roles.join(', ')}'.`,
      call.ids,
    );
  }
  // Malformed JSON is found only after auth and throttling, as Graph does.
  if (call.body instanceof MalformedBody) {
    return graphError(
      400,
      'BadRequest',
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
      call.ids,
    );
  }
  return route.run();
}

/** Marks a request body that was sent but is not JSON. */
export class MalformedBody {
  constructor(readonly text: string) {}
}
