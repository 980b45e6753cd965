/** How values are quoted and described in the field errors' messages. */

export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${show(value)}`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

/**
 * A value quoted for a message, cut short so a huge input cannot make a huge answer. Invisible formatting
 * characters are written as \u escapes, so a right-to-left override cannot reorder the message itself.
 */
export function show(value: string): string {
  const cut = [...value];
  return JSON.stringify(cut.length > 60 ? `${cut.slice(0, 57).join('')}...` : value).replace(
    /\p{Cf}/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

export function charLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

export function describeChar(ch: string): string {
  if (ch === ' ') return 'a space';
  const code = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  // Format characters (category Cf): the right-to-left override, zero-width space, byte order mark...
  if (/^\p{Cf}$/u.test(ch)) return `the invisible formatting character ${code}`;
  if (/^[\s\p{Z}\p{Cc}\p{Cs}]$/u.test(ch)) return `the character ${code}`;
  return `"${ch}"`;
}
