/** Timer schedules: NCRONTAB (5 or 6 fields, evaluated in UTC with croner) or a constant TimeSpan. */
import { Cron } from 'croner';
import type { RpcTypedData } from './functions-core';
import { parseTimeSpan } from './host-json';
import { toDateTimeOffsetJson } from './queue-message';

export interface TimerSchedule {
  expression: string;
  /** TimerInfo.Schedule.AdjustForDST: true for cron schedules, false for constant intervals. */
  adjustForDST: boolean;
  /** The first occurrence strictly after `after`, or undefined when there is none. */
  nextAfter(after: Date): Date | undefined;
}

const oneMinuteMs = 60_000;

/**
 * Parses a schedule like TimerSchedule.Create: a cron expression first, else a TimeSpan (`00:05:00`).
 * Cron day-of-month and day-of-week are AND-ed, as NCrontab does (croner's legacy mode would OR them).
 */
export function parseTimerSchedule(expression: string): TimerSchedule {
  const text = expression.trim();
  const fields = text.split(/\s+/);
  if (fields.length === 5 || fields.length === 6) {
    let cron: Cron;
    try {
      cron = new Cron(text, { timezone: 'UTC', legacyMode: false, paused: true });
    } catch (error) {
      throw new Error(
        `The schedule expression '${expression}' is not a valid cron expression: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return { expression, adjustForDST: true, nextAfter: (after) => cron.nextRun(after) ?? undefined };
  }
  let intervalMs: number;
  try {
    intervalMs = parseTimeSpan(text, 'schedule');
  } catch {
    throw new Error(
      `The schedule expression '${expression}' was not recognized as a valid cron expression or timespan string.`,
    );
  }
  if (intervalMs <= 0) throw new Error(`The schedule interval '${expression}' must be positive`);
  return { expression, adjustForDST: false, nextAfter: (after) => new Date(after.getTime() + intervalMs) };
}

/**
 * True when the host would not persist the schedule status (runs more than once a minute; `useMonitor` false):
 * then the function sees `scheduleStatus: null`, as in Azure.
 */
export function skipsScheduleMonitor(schedule: TimerSchedule, useMonitor: unknown, now: Date): boolean {
  if (useMonitor === false) return true;
  const first = schedule.nextAfter(now);
  const second = first && schedule.nextAfter(first);
  return second !== undefined && second.getTime() - now.getTime() <= oneMinuteMs;
}

export interface ScheduleStatus {
  last: Date | undefined;
  next: Date | undefined;
  lastUpdated: Date | undefined;
}

/** `default(DateTime)` as the host writes it before the first run. */
const dateTimeMin = '0001-01-01T00:00:00+00:00';

function dateJson(date: Date | undefined): string {
  return date ? toDateTimeOffsetJson(date) : dateTimeMin;
}

/** The TimerInfo the host serialises for the worker (the library camel-cases it into `Timer`). */
export function toTimerInput(
  schedule: TimerSchedule,
  status: ScheduleStatus | undefined,
  isPastDue: boolean,
): RpcTypedData {
  const timerInfo = {
    Schedule: { AdjustForDST: schedule.adjustForDST },
    ScheduleStatus: status
      ? { Last: dateJson(status.last), Next: dateJson(status.next), LastUpdated: dateJson(status.lastUpdated) }
      : null,
    IsPastDue: isPastDue,
  };
  return { json: JSON.stringify(timerInfo) };
}
