import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readInputFile } from '../../cli/csv-rows';

/**
 * Every request the documentation shows, found in the files themselves so a new example is covered without
 * touching a test: in README.md and docs/*.md, the JSON code blocks that are a request (`chatType` and `members`,
 * and no `id`/`state` of a stored request) or a batch (`requests`), and the bodies (`-d '…'`) of `curl` calls to
 * `/api/requests`; in examples/, every row of the CSV and JSONL files, read by the CLI's own reader.
 */

const ROOT = resolve(__dirname, '../..');

export interface DocExample {
  /** Where it is, e.g. "docs/api.md block 3" or "examples/new-hires.csv line 2". */
  source: string;
  body: Record<string, unknown>;
}

export function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRequest(value: unknown): value is Record<string, unknown> {
  return (
    isObject(value) && 'chatType' in value && Array.isArray(value.members) && !('id' in value) && !('state' in value)
  );
}

function requestsIn(value: unknown): Record<string, unknown>[] {
  if (isRequest(value)) return [value];
  if (isObject(value) && Array.isArray(value.requests)) return value.requests.filter(isRequest);
  return [];
}

export function markdownExamples(file: string): DocExample[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const examples: DocExample[] = [];
  let block = 0;
  for (const match of text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
    block += 1;
    const [, language, content = ''] = match;
    const bodies: unknown[] = [];
    if (language === 'json') {
      try {
        bodies.push(JSON.parse(content) as unknown);
      } catch {
        // Not JSON on its own (an excerpt with "…"): not a request to send.
      }
    } else {
      const joined = content.replace(/\\\n\s*/g, ' ');
      for (const line of joined.split('\n')) {
        if (!/\bcurl\b/.test(line) || !/\/requests(\/batch)?\b/.test(line)) continue;
        const data = /\s-d\s+'([^']*)'/.exec(line);
        if (data) bodies.push(JSON.parse(data[1] as string) as unknown);
      }
    }
    bodies.flatMap(requestsIn).forEach((body, index) => {
      examples.push({ source: `${file} block ${block}${index > 0 ? ` item ${index}` : ''}`, body });
    });
  }
  return examples;
}

export function fileExamples(): DocExample[] {
  const examples: DocExample[] = [];
  for (const name of readdirSync(join(ROOT, 'examples')).sort()) {
    const format = name.endsWith('.csv') ? 'csv' : name.endsWith('.jsonl') ? 'jsonl' : undefined;
    if (!format) continue;
    const input = readInputFile(readFileSync(join(ROOT, 'examples', name)), format);
    if (input.problems.length > 0) throw new Error(`examples/${name}: ${input.problems.join('; ')}`);
    for (const row of input.rows) {
      if (row.errors.length > 0) throw new Error(`examples/${name} line ${row.line}: ${JSON.stringify(row.errors)}`);
      examples.push({ source: `examples/${name} line ${row.line}`, body: row.body });
    }
  }
  return examples;
}

export function allExamples(): DocExample[] {
  return [...markdownFiles().flatMap(markdownExamples), ...fileExamples()];
}
