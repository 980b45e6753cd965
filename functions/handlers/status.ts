import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { parseListQuery } from '../../shared/http/api-schemas';
import {
  answering,
  contextLogger,
  json,
  problemAnswer,
  readBounded,
  resourceAnswer,
  signatureProblem,
} from '../../shared/http/responses';
import { findByExternalId } from '../../shared/core/idempotency';
import { isRequestId } from '../../shared/core/ids';
import { State } from '../../shared/core/model';
import { requestView } from '../../shared/use-cases/waiting';
import { problem, validationProblem } from '../../shared/http/problem';
import { retryFailedRequest } from '../../shared/use-cases/retry';
import { configProblem, services } from '../../shared/platform/composition-root';
import { InvalidContinuationTokenError } from '../../shared/storage/table-store';
import { checkHealth } from '../../shared/use-cases/health';

/** GET /api/requests/{id} */
export async function getRequest(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const id = request.params.id ?? '';
    if (!isRequestId(id)) return notFound(id);
    const svc = services();
    await svc.ready();
    const stored = await svc.store.get(id);
    return stored
      ? resourceAnswer(200, stored.value, {}, { graceMinutes: svc.config.newUserGraceMinutes })
      : notFound(id);
  });
}

/** GET /api/requests?state=&externalId=&since=&top=&continuationToken= */
export async function listRequests(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const query = parseListQuery(Object.fromEntries(request.query.entries()), new Date());
    if (!query.ok) return problemAnswer(validationProblem(query.errors));
    const svc = services();
    await svc.ready();
    const { state, externalId, since, top, continuationToken } = query.value;
    const view = { now: new Date(), graceMinutes: svc.config.newUserGraceMinutes };
    if (externalId !== undefined) {
      // An externalId names at most one request: its idempotency key row points at it.
      const requestId = await findByExternalId(svc.store, externalId);
      const stored = requestId ? await svc.store.get(requestId) : undefined;
      const match =
        stored && (!state || stored.value.state === state) && (!since || stored.value.createdAt >= since)
          ? [requestView(stored.value, view)]
          : [];
      return json(200, { value: match });
    }
    try {
      const page = await svc.store.list({
        state: state as State | undefined,
        since: since ? new Date(since) : undefined,
        top,
        continuationToken,
      });
      const value = page.items.map((item) => requestView(item, view));
      if (!page.continuationToken) return json(200, { value });
      return json(200, { value, nextLink: nextLink(request, page.continuationToken) });
    } catch (error) {
      if (error instanceof InvalidContinuationTokenError) {
        return problemAnswer(validationProblem([{ path: 'continuationToken', message: error.message }]));
      }
      throw error;
    }
  });
}

/**
 * The next page's link: this route with the list's own filters as the caller sent them and the new
 * token. Only those: any other parameter, above all `code` (a function key, which the host takes in any
 * letter case), is never echoed into an answer.
 */
function nextLink(request: HttpRequest, continuationToken: string): string {
  const url = new URL(request.url);
  const next = new URLSearchParams();
  for (const name of ['state', 'externalId', 'since', 'top']) {
    const value = url.searchParams.get(name);
    if (value !== null && value !== '') next.set(name, value);
  }
  next.set('continuationToken', continuationToken);
  return `${url.pathname}?${next.toString()}`;
}

export const RETRY_SIGNING_HINT =
  'Retries are signed like every POST while WEBHOOK_SIGNING_SECRET is set: the CLI signs them when CHAT_PROVISIONER_SIGNING_SECRET holds the same secret';

/** POST /api/requests/{id}/retry: failed → queued, else 409 with the current state. */
export async function retryRequest(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const svc = services();
    // Like every POST route, the retry is signed when WEBHOOK_SIGNING_SECRET is set: a function key alone
    // cannot re-run a failed request. Operators sign with the CLI (docs/api.md, docs/cli.md).
    const raw = await readBounded(request, 64 * 1024);
    if (raw === 'too-large') return problemAnswer(problem(413, 'Payload too large', { detail: 'A retry has no body' }));
    const unsigned = signatureProblem(svc.config.webhookSigningSecret, request, raw, RETRY_SIGNING_HINT);
    if (unsigned) return unsigned;
    const id = request.params.id ?? '';
    if (!isRequestId(id)) return notFound(id);
    await svc.ready();
    const result = await retryFailedRequest(id, { store: svc.store, queue: svc.queue, log: contextLogger(context) });
    if (result.kind === 'not-found') return notFound(id);
    if (result.kind === 'not-retryable') return notRetryable(result.state, id);
    return resourceAnswer(202, result.request);
  });
}

/** GET /api/health (anonymous): storage reachable, Graph configured or simulated, queue depth, oldest pending. */
export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const misconfigured = configProblem();
    if (misconfigured) {
      return json(503, {
        status: 'unhealthy',
        config: { ok: false, invalidSettings: [...new Set(misconfigured.problems.map((p) => p.setting))] },
      });
    }
    const report = await checkHealth(services());
    return json(report.status === 'healthy' ? 200 : 503, report);
  });
}

function notFound(id: string): HttpResponseInit {
  return problemAnswer(problem(404, 'Request not found', { detail: `No request has the id "${id.slice(0, 64)}"` }));
}

function notRetryable(state: string, id: string): HttpResponseInit {
  return problemAnswer(
    problem(409, 'Only failed requests can be retried', { detail: `Request ${id} is ${state}`, state }),
  );
}
