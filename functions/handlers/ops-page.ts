import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { answering, json } from '../../shared/http/responses';
import { opsSummary as readSummary } from '../../shared/use-cases/ops-summary';
import { services } from '../../shared/platform/composition-root';

/**
 * The ops page: one server-rendered HTML shell plus one script and one style sheet (shared/ui/), no
 * build step. The page talks only to this app's own API (Content-Security-Policy: 'self' and nothing
 * else), sending the function key the operator typed as `x-functions-key`.
 */

/** Everything the page may load or call is on this origin; no inline script or style, no framing. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const COMMON_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const ASSETS: Record<string, string> = {
  'ops.js': 'text/javascript; charset=utf-8',
  'ops.css': 'text/css; charset=utf-8',
};

/** shared/ui next to the sources (ts-jest) or next to dist/ (the built app, the deployed package). */
function uiDirectory(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i += 1) {
    const candidate = join(dir, 'shared', 'ui');
    if (existsSync(join(candidate, 'ops.js'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('shared/ui/ops.js not found: the ops page assets are missing from the package');
}

const cache = new Map<string, string>();
function asset(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(join(uiDirectory(), file), 'utf8');
    cache.set(file, text);
  }
  return text;
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** GET /api/ui: the shell. Paths come from the URL the browser used, so any route prefix works. */
export async function opsPage(request: HttpRequest): Promise<HttpResponseInit> {
  const path = new URL(request.url).pathname.replace(/\/+$/, '');
  const api = path.replace(/\/ui$/i, '');
  const html = asset('ops.html')
    .replaceAll('{{ASSETS}}', escapeAttribute(path))
    .replaceAll('{{API}}', escapeAttribute(api));
  return { status: 200, headers: { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body: html };
}

/** GET /api/ui/{file}: ops.js or ops.css; anything else is a 404. */
export async function opsPageAsset(request: HttpRequest): Promise<HttpResponseInit> {
  const file = request.params.file ?? '';
  const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
  if (!type) return { status: 404, headers: { ...COMMON_HEADERS, 'content-type': 'text/plain' }, body: 'Not found' };
  return { status: 200, headers: { ...COMMON_HEADERS, 'content-type': type }, body: asset(file) };
}

/** GET /api/ops/summary (function key): counts per state, queue depths, the rate limiter. */
export async function opsSummary(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => json(200, await readSummary(services())));
}
