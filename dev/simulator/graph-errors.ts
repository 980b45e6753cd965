import { GRAPH_JSON, SimAnswer } from './answer';

/** Graph's error envelope; every answer carries request-id and client-request-id (support asks for both). */

export interface RequestIds {
  requestId: string;
  clientRequestId: string;
  /** Echoed as innerError.date. */
  now: number;
}

export function graphHeaders(ids: RequestIds): Record<string, string> {
  return {
    'request-id': ids.requestId,
    'client-request-id': ids.clientRequestId,
    'x-ms-ags-diagnostic': JSON.stringify({
      ServerInfo: { DataCenter: 'Loopback', Slice: 'E', Ring: 'SIM', ScaleUnit: '000', RoleInstance: 'SIM' },
    }),
  };
}

export function graphError(
  status: number,
  code: string,
  message: string,
  ids: RequestIds,
  extraHeaders: Record<string, string> = {},
): SimAnswer {
  return {
    status,
    headers: { 'content-type': GRAPH_JSON, ...graphHeaders(ids), ...extraHeaders },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date(ids.now).toISOString().replace(/\.\d{3}Z$/, ''),
          'request-id': ids.requestId,
          'client-request-id': ids.clientRequestId,
        },
      },
    },
  };
}

/** The code Graph uses for a bare HTTP status a fault injects. */
export function codeForStatus(status: number): { code: string; message: string } {
  switch (status) {
    case 429:
      return { code: 'TooManyRequests', message: 'Too many requests.' };
    case 500:
      return { code: 'InternalServerError', message: 'An internal server error occurred.' };
    case 502:
      return { code: 'BadGateway', message: 'Bad gateway.' };
    case 503:
      return { code: 'ServiceUnavailable', message: 'The service is temporarily unavailable. Please retry later.' };
    case 504:
      return { code: 'GatewayTimeout', message: 'The gateway timed out waiting for the service.' };
    default:
      return { code: 'UnknownError', message: `Injected status ${status}.` };
  }
}

/**
 * Answers real Graph gives on the Teams chat endpoints, as callers reported them in public issue threads
 * (see dev/simulator/README.md); scripted with `{type: 'graphError', error: '<name>'}` or produced by the rules.
 */
export const KNOWN_GRAPH_ERRORS = {
  /** A server fault dressed as a bad request; Graph may or may not have made the chat. */
  invocationException: {
    status: 400,
    code: 'BadRequest',
    message: 'Exception has been thrown by the target of an invocation.',
  },
  /** An API Teams serves only with a signed-in user (e.g. GET /chats, some $filter forms), called app-only. */
  applicationOnly: {
    status: 412,
    code: 'PreconditionFailed',
    message: 'Requested API is not supported in application-only context',
  },
  /** A member in another tenant that Teams external access (federation) does not allow. */
  notFederated: {
    status: 403,
    code: 'Forbidden',
    message: 'The user is not federated with this organization.',
  },
  /** A member without a Teams license. */
  noLicense: {
    status: 403,
    code: 'Forbidden',
    message: 'Failed to get license information for the user. Ensure user has a valid Office365 license.',
  },
} as const satisfies Record<string, { status: number; code: string; message: string }>;

export type KnownGraphError = keyof typeof KNOWN_GRAPH_ERRORS;
export const KNOWN_GRAPH_ERROR_NAMES = Object.keys(KNOWN_GRAPH_ERRORS) as KnownGraphError[];

export function knownGraphError(name: KnownGraphError, ids: RequestIds): SimAnswer {
  const known = KNOWN_GRAPH_ERRORS[name];
  return graphError(known.status, known.code, known.message, ids);
}

export function applicationOnlyRefusal(ids: RequestIds): SimAnswer {
  return knownGraphError('applicationOnly', ids);
}
