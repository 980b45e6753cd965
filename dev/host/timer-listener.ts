/**
 * One timer function: ticks on its schedule (UTC), `runOnStartup`, and never overlaps with itself
 * (the host runs TimerListener as a singleton with an invocation lock): a tick that finds the previous
 * run still going is skipped and logged.
 */
import type { RpcTypedData } from './functions-core';
import type { HostLogger } from './invocation';
import { type ScheduleStatus, type TimerSchedule, skipsScheduleMonitor, toTimerInput } from './timer-schedule';

export type TickReason = 'schedule' | 'runOnStartup' | 'manual';

export interface TimerListenerOptions {
  functionName: string;
  schedule: TimerSchedule;
  runOnStartup: boolean;
  useMonitor: unknown;
  /** Runs the function with the TimerInfo input; must not throw. */
  run: (timerInput: RpcTypedData, details: Record<string, unknown>) => Promise<unknown>;
  emit: HostLogger;
  now?: () => Date;
}

/** setTimeout's ceiling (about 24.8 days); longer waits are chained like the host's TimerListener does. */
const maxTimerDelayMs = 2_147_483_647;

export class TimerListener {
  readonly #o: TimerListenerOptions;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** The occurrence the timer is armed for. */
  #due: Date | undefined;
  /** What the function sees as `scheduleStatus`; updated after each run, as the host does. */
  #status: ScheduleStatus;

  constructor(options: TimerListenerOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#due = options.schedule.nextAfter(this.#now());
    this.#status = { last: undefined, next: this.#due, lastUpdated: undefined };
  }

  /** The occurrence the listener waits for next. */
  get nextOccurrence(): Date | undefined {
    return this.#due;
  }

  start(): void {
    if (this.#o.runOnStartup) void this.tick('runOnStartup');
    this.#arm();
  }

  /** Runs one tick now; resolves when the run (or the run it was skipped for) is over. */
  tick(reason: TickReason): Promise<void> {
    if (this.#running) {
      this.#o.emit({
        event: 'timer',
        phase: 'skipped',
        function: this.#o.functionName,
        reason,
        why: 'previous run still in progress',
      });
      return this.#running;
    }
    const run = this.#invoke(reason).finally(() => {
      this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Stops ticking and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #arm(): void {
    const due = this.#due;
    if (this.#stopped || !due) return;
    const wait = Math.max(0, due.getTime() - this.#now().getTime());
    this.#timer = setTimeout(
      () => {
        if (this.#now().getTime() < due.getTime()) return this.#arm();
        // Advance from the occurrence itself, so an early wake-up cannot fire the same occurrence twice.
        this.#due = this.#o.schedule.nextAfter(new Date(Math.max(this.#now().getTime(), due.getTime())));
        void this.tick('schedule');
        this.#arm();
      },
      Math.min(wait, maxTimerDelayMs),
    );
  }

  async #invoke(reason: TickReason): Promise<void> {
    const now = this.#now();
    const status = skipsScheduleMonitor(this.#o.schedule, this.#o.useMonitor, now) ? undefined : this.#status;
    await this.#o.run(toTimerInput(this.#o.schedule, status, false), { trigger: 'timer', reason });
    this.#status = { last: now, next: this.#o.schedule.nextAfter(now), lastUpdated: now };
  }
}
