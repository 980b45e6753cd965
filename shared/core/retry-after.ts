/**
 * `Retry-After` as Graph and this service's API send it: delay-seconds, possibly fractional (Graph sends
 * "2.128"), or an HTTP date. Milliseconds to wait, or undefined when absent or unreadable. Pure; the
 * service's Graph policy and the CLI both read it here.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date | number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  const nowMs = typeof now === 'number' ? now : now.getTime();
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
