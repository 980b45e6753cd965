/** Pure helpers for the benchmarks: statistics, ratios, goal verdicts and the printed table. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** a ÷ b; NaN when b is 0 or either side is not a finite number (never Infinity in a report). */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}

/** Share of `part` in `whole` (0 when nothing happened). */
export function share(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

export type Comparison = '>=' | '<=' | '==';

export interface Goal {
  id: string;
  /** What is measured, in words. */
  name: string;
  value: number;
  comparison: Comparison;
  target: number;
  /** How the value is printed. */
  unit?: 'ratio' | 'percent' | 'count' | 'perSecond' | 'ms' | 'MiB';
}

export interface Verdict extends Goal {
  pass: boolean;
}

export function judge(goal: Goal): Verdict {
  const { value, comparison, target } = goal;
  let pass: boolean;
  if (!Number.isFinite(value)) pass = false;
  else if (comparison === '>=') pass = value >= target;
  else if (comparison === '<=') pass = value <= target;
  else pass = value === target;
  return { ...goal, pass };
}

export function formatValue(value: number, unit: Goal['unit'] = 'ratio'): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'percent':
      return `${(value * 100).toFixed(2)}%`;
    case 'count':
      return String(Math.round(value));
    case 'perSecond':
      return `${value.toFixed(1)}/s`;
    case 'ms':
      return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case 'MiB':
      return `${value.toFixed(1)} MiB`;
    case 'ratio':
    default:
      return `${value.toFixed(value < 10 ? 2 : 1)}×`;
  }
}

export function formatGoal(verdict: Verdict): string {
  return `${verdict.comparison} ${formatValue(verdict.target, verdict.unit)}`;
}

/** A plain-text table with a header rule; columns sized to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The same table as GitHub markdown (for the README's performance section). */
export function formatMarkdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.map(escape).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

export function verdictRows(verdicts: readonly Verdict[]): string[][] {
  return verdicts.map((v) => [v.id, v.name, formatValue(v.value, v.unit), formatGoal(v), v.pass ? 'PASS' : 'MISS']);
}

export const VERDICT_HEADER = ['goal', 'measured', 'value', 'target', 'result'] as const;

/**
 * Group chats made more than once for the same request. Each benchmark request has a unique topic,
 * so chats sharing a topic beyond the first are duplicates.
 */
export function duplicateCount(topics: readonly (string | null)[]): number {
  const seen = new Map<string, number>();
  let duplicates = 0;
  for (const topic of topics) {
    if (topic === null) continue;
    const count = (seen.get(topic) ?? 0) + 1;
    seen.set(topic, count);
    if (count > 1) duplicates += 1;
  }
  return duplicates;
}

/**
 * The rate a run sustained against a token bucket that starts full with `burst` tokens: (events −
 * burst) ÷ (last event − first event). The bucket allows at most burst + ceiling × span events in a
 * span, so this is at most the ceiling whatever the run did; the whole run counts, ramp-up and tail
 * included. (Until 2026-11-25 P1 counted from the first 429 instead; a run whose only 429s came in
 * its last seconds, when the backlog had drained, was then measured on those seconds alone.)
 */
export function sustainedRate(timesMs: readonly number[], burst: number): number {
  if (timesMs.length <= burst) return Number.NaN;
  let first = Infinity;
  let last = -Infinity;
  for (const t of timesMs) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  if (last <= first) return Number.NaN;
  return (timesMs.length - burst) / ((last - first) / 1000);
}

/** Parses `--name value` / `--flag` arguments into a map (unknown names are the caller's problem). */
export function parseArgs(argv: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue;
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out.set(name, inline);
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) out.set(name, argv[++i] as string);
    else out.set(name, true);
  }
  return out;
}
