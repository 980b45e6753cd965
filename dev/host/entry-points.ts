/** Finds the app's entry point files from package.json `main`, a glob like the worker accepts (`dist/functions/*.js`). */
import * as fs from 'node:fs';
import * as path from 'node:path';

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

/** One path segment's glob (`*`, `?`, `{a,b}`, `[abc]`) as a regular expression. */
export function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] as string;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '{') {
      const end = segment.indexOf('}', i);
      if (end < 0) {
        source += '\\{';
        continue;
      }
      source += `(?:${segment
        .slice(i + 1, end)
        .split(',')
        .map((option) =>
          option
            .split('')
            .map((c) => (c === '*' ? '[^/]*' : escapeRegExp(c)))
            .join(''),
        )
        .join('|')})`;
      i = end;
    } else if (ch === '[') {
      const end = segment.indexOf(']', i);
      if (end < 0) source += '\\[';
      else {
        source += segment.slice(i, end + 1).replace(/^\[!/, '[^');
        i = end;
      }
    } else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`);
}

export function hasGlobMagic(pattern: string): boolean {
  return /[*?{[]/.test(pattern);
}

function walk(directory: string, segments: string[], found: string[]): void {
  const [segment, ...rest] = segments;
  if (segment === undefined) return;
  if (segment === '**') {
    walk(directory, rest, found);
    for (const entry of safeReadDir(directory)) {
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) {
        walk(path.join(directory, entry.name), segments, found);
      }
    }
    return;
  }
  const matcher = hasGlobMagic(segment) ? segmentPattern(segment) : undefined;
  const entries = matcher
    ? safeReadDir(directory).filter((entry) => matcher.test(entry.name) && !entry.name.startsWith('.'))
    : safeReadDir(directory).filter((entry) => entry.name === segment);
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (rest.length === 0) {
      if (entry.isFile()) found.push(full);
    } else if (entry.isDirectory()) {
      walk(full, rest, found);
    }
  }
}

function safeReadDir(directory: string): fs.Dirent[] {
  try {
    return fs.readdirSync(directory, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Absolute paths of the files matching `pattern` (relative to `appRoot`), sorted for a stable load order. */
export function resolveEntryPoints(appRoot: string, pattern: string): string[] {
  if (path.isAbsolute(pattern) && !hasGlobMagic(pattern)) return fs.existsSync(pattern) ? [pattern] : [];
  const relative = path.isAbsolute(pattern) ? path.relative(appRoot, pattern) : pattern;
  const segments = relative.replace(/\\/g, '/').replace(/^\.\//, '').split('/').filter(Boolean);
  const found: string[] = [];
  walk(appRoot, segments, found);
  return [...new Set(found)].sort();
}

/** package.json `main`, as the worker reads it. */
export function readMainPattern(appRoot: string): string | undefined {
  const file = path.join(appRoot, 'package.json');
  if (!fs.existsSync(file)) return undefined;
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { main?: unknown; type?: unknown };
  if (json.type === 'module') {
    throw new Error(
      'package.json "type": "module" is not supported by the local host (it loads entry points with require)',
    );
  }
  return typeof json.main === 'string' ? json.main : undefined;
}
