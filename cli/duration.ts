/** Durations as people type them on a command line (`2s`, `30m`, `1h30m`, `500ms`). Pure. */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Milliseconds in `text`, or undefined when it is not a duration. A bare number is refused: `10` could mean seconds or minutes. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim().toLowerCase();
  if (!WHOLE.test(value)) return undefined;
  let total = 0;
  for (const match of value.matchAll(PART)) total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  return Math.round(total);
}

/** `--since`: a duration back from now (`1h`) or an ISO 8601 time (`2024-05-01T08:00:00Z`). */
export function parseSince(text: string, now: Date): Date | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  // Only full ISO dates: Date.parse would also take "5" or "May 1" and guess.
  if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(text.trim()))
    return undefined;
  const time = Date.parse(text.trim());
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** `90061000` → `1d1h1m1s`; under a second → `250ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.join('');
}
