/**
 * The local host's console: one readable line per event for a person at a terminal, filtered by LOG_LEVEL
 * (default info). What a person needs at info: the host starting and stopping, every request state change
 * and every problem the app logs, failed invocations, poisoned messages. Invocation start/end, timer ticks,
 * lease renewals and empty-queue polling are debug. The app's own events are JSON objects on the invocation
 * log (that is what Application Insights gets in Azure); here they are printed as `event key=value …`.
 */
import { type LogLevel, logLevelFrom, passes } from '../../shared/platform/log';
import { describeError } from './invocation';

type Line = Record<string, unknown>;

export interface ConsoleOptions {
  /** The lowest level printed; default LOG_LEVEL from the environment, else info. */
  level?: LogLevel;
  write?: (text: string) => void;
  now?: () => Date;
}

/** The level of one host line (`{event:'host'|'invocation'|'log'|'queue'|'timer'|'http', …}`). */
export function levelOf(line: Line): LogLevel {
  switch (line.event) {
    case 'log':
      return rpcLevel(String(line.level ?? ''));
    case 'invocation':
      if (line.phase === 'end') return line.outcome === 'succeeded' ? 'debug' : 'error';
      if (line.phase === 'finished-after-timeout') return 'warn';
      return 'debug';
    case 'queue':
      if (line.phase === 'error') return 'error';
      if (line.phase === 'poll-error' || line.phase === 'lease-renewal-failed' || line.phase === 'poisoned')
        return 'warn';
      // queue-not-found (the app creates its queues on first use), lease-renewed, released (the failure is its own line)
      return 'debug';
    case 'timer':
      return 'debug';
    case 'host':
      if (line.phase === 'error') return 'error';
      if (line.phase === 'warning') return 'warn';
      return 'info';
    case 'http':
      return line.phase === 'error' ? 'error' : 'debug';
    default:
      return 'info';
  }
}

function rpcLevel(level: string): LogLevel {
  switch (level.toLowerCase()) {
    case 'trace':
    case 'debug':
      return 'debug';
    case 'warning':
      return 'warn';
    case 'error':
    case 'critical':
      return 'error';
    default:
      return 'info';
  }
}

/** A host logger that prints readable lines. */
export function consoleLogger(options: ConsoleOptions = {}): (line: object) => void {
  // Read per line: the host applies local.settings.json after its logger is made.
  const minimum = (): LogLevel => options.level ?? logLevelFrom(process.env);
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const now = options.now ?? (() => new Date());
  return (object) => {
    const line = object as Line;
    const level = levelOf(line);
    const threshold = minimum();
    if (!passes(level, threshold)) return;
    write(`${formatLine(line, level, now(), threshold === 'debug')}\n`);
  };
}

/**
 * `12:04:05.123 INFO  worker    request.succeeded requestId=… attempt=1` (local time of day). A failed
 * invocation is one line naming where it threw; its whole stack follows on indented lines at debug.
 */
export function formatLine(line: Line, level: LogLevel, at: Date, stacks = false): string {
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const source = String(line.function ?? line.event ?? '');
  return `${time} ${level.toUpperCase().padEnd(5)} ${source.padEnd(9)} ${describe(line, stacks)}`;
}

function describe(line: Line, stacks: boolean): string {
  const { event, phase } = line;
  if (event === 'log') return appMessage(String(line.message ?? ''));
  if (event === 'invocation') {
    const what = `invocation ${String(phase)}${line.outcome ? ` ${String(line.outcome)}` : ''}`;
    const error = line.error as ReturnType<typeof describeError> | undefined;
    const rest = pairs(line, ['event', 'phase', 'function', 'outcome', 'error', 'invocationId']);
    const failure = error ? `: ${error.name}: ${error.message}${stacks ? stackOf(error) : whereOf(error)}` : '';
    return `${what}${rest ? ` ${rest}` : ''}${failure}`;
  }
  if (event === 'host' && phase === 'started') {
    const functions = (line.functions as { name: string }[] | undefined)?.map((f) => f.name).join(', ');
    return `started on ${String(line.url)}${functions ? ` (functions: ${functions})` : ''}`;
  }
  const error = line.error as ReturnType<typeof describeError> | undefined;
  const message = line.message !== undefined ? ` ${String(line.message)}` : '';
  const rest = pairs(line, ['event', 'phase', 'function', 'message', 'error']);
  return `${String(phase ?? event)}${message}${rest ? ` ${rest}` : ''}${error ? `: ${error.name}: ${error.message}` : ''}`;
}

/** The app logs one JSON object per event (shared/platform/log.ts): printed as `event key=value …`; other text as it is. */
function appMessage(message: string): string {
  if (!message.startsWith('{')) return message;
  try {
    const parsed = JSON.parse(message) as Line;
    if (typeof parsed.event !== 'string') return message;
    const rest = pairs(parsed, ['event']);
    return rest ? `${parsed.event} ${rest}` : parsed.event;
  } catch {
    return message;
  }
}

function pairs(line: Line, skip: string[]): string {
  return Object.entries(line)
    .filter(([key, value]) => !skip.includes(key) && value !== undefined)
    .map(([key, value]) => `${key}=${render(value)}`)
    .join(' ');
}

function render(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function stackOf(error: { stack?: string }): string {
  // Only the frames: the first line of a stack repeats the name and message.
  const frames = (error.stack ?? '').split('\n').slice(1).filter(Boolean);
  return frames.length > 0 ? `\n${frames.map((frame) => `    ${frame.trim()}`).join('\n')}` : '';
}

/** ` (at file.js:12)`: the top frame of the stack, file name only. */
function whereOf(error: { stack?: string }): string {
  const frame = (error.stack ?? '').split('\n').find((text) => /^\s+at /.test(text));
  const place = frame ? /([^/\\( ]+:\d+):\d+\)?\s*$/.exec(frame)?.[1] : undefined;
  return place ? ` (at ${place})` : '';
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
