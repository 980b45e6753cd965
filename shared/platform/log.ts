/**
 * Structured log events: `{event, requestId, attempt, graphRequestId, …}`. Callers pass only ids,
 * states, codes and counts — never member addresses, bodies or secrets.
 *
 * Levels: `info` is one line per request state change, `warn`/`error` one line per problem, `debug`
 * everything else (each Graph call, each timer tick, each invocation's summary). LOG_LEVEL picks the
 * lowest level written (default info), so an idle service writes nothing.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** `debug`, `info`, `warn` (or `warning`), `error`, any case; undefined for anything else. */
export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  const text = (value ?? '').trim().toLowerCase();
  if (text === 'warning') return 'warn';
  return (LOG_LEVELS as readonly string[]).includes(text) ? (text as LogLevel) : undefined;
}

/** The LOG_LEVEL setting, or the default when it is unset or invalid (loadConfig reports an invalid one). */
export function logLevelFrom(env: Record<string, string | undefined>): LogLevel {
  return parseLogLevel(env.LOG_LEVEL) ?? DEFAULT_LOG_LEVEL;
}

/** True when an event at `level` is written under the threshold `minimum`. */
export function passes(level: LogLevel, minimum: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(minimum);
}

export interface LogFields {
  requestId?: string;
  attempt?: number;
  graphRequestId?: string;
  clientRequestId?: string;
  [key: string]: string | number | boolean | undefined;
}

export type Logger = (level: LogLevel, event: string, fields?: LogFields) => void;

/**
 * Writes one JSON object per event through `sink` (the invocation context's log): in Azure each becomes
 * one Application Insights trace at that severity, queryable with `parse_json(message)`. The local host
 * prints the same events as plain lines (dev/host/console.ts). Events below `minimum` are dropped.
 */
export function jsonLogger(sink: (level: LogLevel, line: string) => void, minimum: LogLevel = 'debug'): Logger {
  return (level, event, fields = {}) => {
    if (!passes(level, minimum)) return;
    const clean: Record<string, unknown> = { event };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) clean[key] = value;
    sink(level, JSON.stringify(clean));
  };
}

export const silentLogger: Logger = () => undefined;
