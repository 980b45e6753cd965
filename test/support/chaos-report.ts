/**
 * The figures a chaos file measured, printed once at the end as one line `CHAOS-REPORT {...}` (grep it
 * from the jest output for the README's reliability section). Every figure put here is also asserted
 * by the test that measured it.
 */

export const LONG = process.env.CHAOS === 'long';

export class ChaosReport {
  private readonly figures: Record<string, unknown> = {};
  private readonly started = Date.now();

  constructor(private readonly file: string) {}

  /** Figures of one scenario, e.g. `set('graphFaults', {requests: 300, lost: 0})`. */
  set(scenario: string, figures: Record<string, unknown>): void {
    this.figures[scenario] = { ...((this.figures[scenario] as object | undefined) ?? {}), ...figures };
  }

  print(): void {
    const line = {
      file: this.file,
      variant: LONG ? 'long' : 'default',
      seconds: Math.round((Date.now() - this.started) / 1000),
      ...this.figures,
    };
    // One line on stdout (not console.log: jest decorates that with a stack location).
    process.stdout.write(`CHAOS-REPORT ${JSON.stringify(line)}\n`);
  }
}
