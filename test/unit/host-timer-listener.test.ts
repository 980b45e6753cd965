import { TimerListener } from '../../dev/host/timer-listener';
import { parseTimerSchedule } from '../../dev/host/timer-schedule';

describe('TimerListener', () => {
  it('skips (and logs) a tick while the previous run is going, and resolves it when that run ends', async () => {
    // Prepare
    const lines: Record<string, unknown>[] = [];
    let finish: () => void = () => undefined;
    let runs = 0;
    const listener = new TimerListener({
      functionName: 'job',
      schedule: parseTimerSchedule('0 0 0 1 1 *'),
      runOnStartup: false,
      useMonitor: undefined,
      emit: (line) => lines.push(line as Record<string, unknown>),
      run: () => {
        runs++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    // Act
    const first = listener.tick('manual');
    const second = listener.tick('manual');
    finish();
    await Promise.all([first, second]);
    // Assess
    expect(runs).toBe(1);
    expect(lines).toEqual([
      expect.objectContaining({ event: 'timer', phase: 'skipped', function: 'job', reason: 'manual' }),
    ]);
    await listener.stop();
  });

  it('passes the schedule status and updates it after each run', async () => {
    const inputs: unknown[] = [];
    const listener = new TimerListener({
      functionName: 'job',
      schedule: parseTimerSchedule('0 0 0 1 1 *'),
      runOnStartup: false,
      useMonitor: undefined,
      emit: () => undefined,
      now: () => new Date('2024-05-01T00:00:00Z'),
      run: async (input) => {
        inputs.push(JSON.parse(input.json as string));
      },
    });
    await listener.tick('manual');
    await listener.tick('manual');
    expect(inputs[0]).toMatchObject({
      ScheduleStatus: { Last: '0001-01-01T00:00:00+00:00', Next: '2025-01-01T00:00:00+00:00' },
    });
    expect(inputs[1]).toMatchObject({
      ScheduleStatus: { Last: '2024-05-01T00:00:00+00:00', LastUpdated: '2024-05-01T00:00:00+00:00' },
    });
    await listener.stop();
  });
});
