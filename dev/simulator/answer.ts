/** What a handler decides to send; the server turns it into bytes. Keeping it data lets faults act after the real work. */
export interface SimAnswer {
  status: number;
  headers: Record<string, string>;
  /** undefined: no body; string: sent as is; anything else: JSON. */
  body?: unknown;
}

export const GRAPH_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
export const PLAIN_JSON = 'application/json; charset=utf-8';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SimAnswer {
  return { status, headers: { 'content-type': PLAIN_JSON, ...headers }, body };
}
