import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConfigError } from '../platform/config';
import { StorageUnavailableError } from '../core/errors';
import { readBodyBounded } from './json-body';
import { jsonLogger, Logger, LogLevel, logLevelFrom } from '../platform/log';
import { ChatRequest } from '../core/model';
import { requestView } from '../use-cases/waiting';
import { Problem, problem, PROBLEM_CONTENT_TYPE } from './problem';
import { verifyWebhookSignature } from './webhook-signature';

/** Converters between the service's results and HTTP answers, shared by the HTTP functions. */

export function problemAnswer(p: Problem, headers: Record<string, string> = {}): HttpResponseInit {
  return { status: p.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers }, body: JSON.stringify(p) };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** A request resource answer; `graceMinutes` lets `waiting` say when a new hire's grace ends. */
export function resourceAnswer(
  status: number,
  request: ChatRequest,
  headers: Record<string, string> = {},
  view: { graceMinutes?: number } = {},
): HttpResponseInit {
  return json(status, requestView(request, { now: new Date(), ...view }), {
    location: `/api/requests/${request.id}`,
    ...headers,
  });
}

/** The service's events on the invocation's log, at their own severity, from LOG_LEVEL up (default info). */
export function contextLogger(context: InvocationContext, minimum: LogLevel = logLevelFrom(process.env)): Logger {
  return jsonLogger((level, line) => {
    if (level === 'error') context.error(line);
    else if (level === 'warn') context.warn(line);
    else if (level === 'debug') context.debug(line);
    else context.info(line);
  }, minimum);
}

/**
 * Runs an HTTP handler body and maps the service's known failures: storage down → 503 with
 * Retry-After, bad configuration → 503 naming the settings (never their values), anything else → 500
 * without internals (logged with the invocation id).
 */
export async function answering(
  context: InvocationContext,
  work: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageUnavailableError) {
      context.warn(JSON.stringify({ event: 'storage.unavailable', message: error.message }));
      return problemAnswer(
        problem(503, 'Storage is unavailable', {
          // A write may have landed before storage failed, so "maybe": a keyed retry is safe either way.
          detail:
            'Storage is unavailable; the request may not have been recorded. Retry after Retry-After seconds with the same Idempotency-Key or externalId.',
        }),
        { 'retry-after': '5' },
      );
    }
    if (error instanceof ConfigError) {
      context.error(
        JSON.stringify({ event: 'config.invalid', settings: error.problems.map((p) => p.setting).join(',') }),
      );
      return problemAnswer(
        problem(503, 'The service is misconfigured', {
          detail: `Invalid settings: ${[...new Set(error.problems.map((p) => p.setting))].join(', ')}`,
        }),
        { 'retry-after': '60' },
      );
    }
    context.error(
      JSON.stringify({
        event: 'http.unhandled',
        invocationId: context.invocationId,
        error: String((error as Error)?.name),
      }),
    );
    return problemAnswer(problem(500, 'Internal error', { detail: `Reference: ${context.invocationId}` }));
  }
}

/** Webhook signature check for POST routes when WEBHOOK_SIGNING_SECRET is set; undefined = passed. */
export function signatureProblem(
  secret: string | undefined,
  request: HttpRequest,
  body: Buffer,
  /** Appended to the problem's detail: what this route's callers should do. */
  hint?: string,
): HttpResponseInit | undefined {
  if (!secret) return undefined;
  const check = verifyWebhookSignature(secret, body.toString('utf8'), {
    id: request.headers.get('webhook-id'),
    timestamp: request.headers.get('webhook-timestamp'),
    signature: request.headers.get('webhook-signature'),
  });
  if (check.ok) return undefined;
  return problemAnswer(
    problem(401, 'Invalid webhook signature', { detail: hint ? `${check.reason}. ${hint}` : check.reason }),
    {
      'www-authenticate': 'Standard-Webhooks',
    },
  );
}

/** Reads the raw body once, bounded: reading stops at the limit (readBodyBounded), nothing more is buffered. */
export async function readBounded(request: HttpRequest, maxBytes: number): Promise<Buffer | 'too-large'> {
  return readBodyBounded(request, maxBytes);
}
