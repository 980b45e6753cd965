/**
 * Structured log events: `{event, requestId, attempt, graphRequestId, …}`. Callers pass only ids,
 * states, codes and counts — never member addresses, bodies or secrets.
 */
export type LogLevel = 'info' | 'warn' | 'error';

export interface LogFields {
  requestId?: string;
  attempt?: number;
  graphRequestId?: string;
  clientRequestId?: string;
  [key: string]: string | number | boolean | undefined;
}

export type Logger = (level: LogLevel, event: string, fields?: LogFields) => void;

/** Writes one JSON line per event through `sink` (the invocation context's log, or stdout). */
export function jsonLogger(sink: (level: LogLevel, line: string) => void): Logger {
  return (level, event, fields = {}) => {
    const clean: Record<string, unknown> = { event };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) clean[key] = value;
    sink(level, JSON.stringify(clean));
  };
}

export const silentLogger: Logger = () => undefined;
