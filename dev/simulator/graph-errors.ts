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
