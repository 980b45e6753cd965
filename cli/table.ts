/** Plain-text layout for terminals: aligned tables and label/value blocks. Pure. */

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Longer cells are cut with an ellipsis so one long error message does not wrap every row. */
  maxWidth?: number;
}

/** One line per cell: tabs, newlines and other control characters would break the alignment. */
export function cleanCell(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

function fit(value: string, maxWidth: number | undefined): string {
  if (maxWidth === undefined || value.length <= maxWidth) return value;
  return maxWidth <= 1 ? value.slice(0, maxWidth) : `${value.slice(0, maxWidth - 1)}…`;
}

/** Columns separated by two spaces, the header first; no trailing spaces. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly (string | undefined)[])[]): string[] {
  const cells = rows.map((row) => columns.map((column, i) => fit(cleanCell(row[i] ?? ''), column.maxWidth)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? value.padStart(width) : value.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...cells.map(line)];
}

/** `label  value` lines with the labels padded to one width; undefined values are left out. */
export function formatBlock(entries: readonly (readonly [string, string | undefined])[]): string[] {
  const shown = entries.filter(
    (entry): entry is readonly [string, string] => entry[1] !== undefined && entry[1] !== '',
  );
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${cleanCell(value)}`.trimEnd());
}
