import { parseTimerSchedule, skipsScheduleMonitor, toTimerInput } from '../../dev/host/timer-schedule';

const at = (iso: string): Date => new Date(iso);

describe('timer schedules', () => {
  it('reads 6-field NCRONTAB with seconds, in UTC', () => {
    const schedule = parseTimerSchedule('30 */5 * * * *');
    expect(schedule.nextAfter(at('2024-05-01T12:03:00Z'))).toEqual(at('2024-05-01T12:05:30Z'));
    expect(schedule.adjustForDST).toBe(true);
  });

  it('reads 5-field expressions as minute-level', () => {
    expect(parseTimerSchedule('0 9 * * *').nextAfter(at('2024-05-01T10:00:00Z'))).toEqual(at('2024-05-02T09:00:00Z'));
  });

  it('AND-s day of month and day of week, as NCrontab does', () => {
    // The 13th that is a Friday, after May 2024: September 13, 2024.
    expect(parseTimerSchedule('0 0 0 13 * 5').nextAfter(at('2024-05-01T00:00:00Z'))).toEqual(
      at('2024-09-13T00:00:00Z'),
    );
  });

  it('accepts a TimeSpan as a constant interval', () => {
    const schedule = parseTimerSchedule('00:05:00');
    expect(schedule.nextAfter(at('2024-05-01T00:00:00Z'))).toEqual(at('2024-05-01T00:05:00Z'));
    expect(schedule.adjustForDST).toBe(false);
  });

  it('rejects what the host rejects', () => {
    expect(() => parseTimerSchedule('every five minutes')).toThrow(/not recognized/);
    expect(() => parseTimerSchedule('99 * * * * *')).toThrow(/not a valid cron/);
  });

  it('keeps no schedule status for timers that run more than once a minute, or with useMonitor false', () => {
    const now = at('2024-05-01T00:00:00Z');
    expect(skipsScheduleMonitor(parseTimerSchedule('*/10 * * * * *'), undefined, now)).toBe(true);
    expect(skipsScheduleMonitor(parseTimerSchedule('0 */5 * * * *'), undefined, now)).toBe(false);
    expect(skipsScheduleMonitor(parseTimerSchedule('0 */5 * * * *'), false, now)).toBe(true);
  });

  it('serialises TimerInfo the way the host does', () => {
    const input = toTimerInput(
      parseTimerSchedule('0 */5 * * * *'),
      { last: at('2024-05-01T00:00:00Z'), next: at('2024-05-01T00:05:00Z'), lastUpdated: undefined },
      false,
    );
    expect(JSON.parse(input.json as string)).toEqual({
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: '2024-05-01T00:00:00+00:00',
        Next: '2024-05-01T00:05:00+00:00',
        LastUpdated: '0001-01-01T00:00:00+00:00',
      },
      IsPastDue: false,
    });
  });
});
