import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  answering,
  contextLogger,
  json,
  problemAnswer,
  readBounded,
  resourceAnswer,
  signatureProblem,
} from '../shared/http-answers';
import { idempotencyKeyOf, submitBatch, submitRequest, BatchItemResult } from '../shared/intake';
import { parseBatchRequest } from '../shared/api-schemas';
import { readJsonBody } from '../shared/json-body';
import { problem, validationProblem } from '../shared/problem';
import { parseProvisioningRequest, payloadHash } from '../shared/request-schema';
import { services } from '../shared/services';

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** POST /api/requests: validate, record, enqueue; idempotent by key. */
export async function intake(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const svc = services();
    const raw = await readBounded(request, MAX_BODY_BYTES);
    if (raw === 'too-large')
      return problemAnswer(problem(413, 'Payload too large', { detail: 'The body is over 1 MiB' }));
    const unsigned = signatureProblem(svc.config.webhookSigningSecret, request, raw);
    if (unsigned) return unsigned;
    const body = readJsonBody({
      contentType: request.headers.get('content-type'),
      body: raw,
      maxBytes: MAX_BODY_BYTES,
    });
    if (!body.ok) return problemAnswer(body.problem);
    const parsed = parseProvisioningRequest(body.value, new Date());
    if (!parsed.ok) return problemAnswer(validationProblem(parsed.errors));

    const headerKey = request.headers.get('idempotency-key') ?? undefined;
    if (headerKey !== undefined && (headerKey.length === 0 || headerKey.length > 256)) {
      return problemAnswer(
        validationProblem([{ path: 'headers.Idempotency-Key', message: 'must be 1 to 256 characters' }]),
      );
    }
    const key = idempotencyKeyOf(parsed.value, {
      idempotencyKey: headerKey,
      webhookId: request.headers.get('webhook-id') ?? undefined,
    });
    await svc.ready();
    const result = await submitRequest(parsed.value, payloadHash(parsed.value), key, {
      store: svc.store,
      queue: svc.queue,
      log: contextLogger(context),
    });
    switch (result.kind) {
      case 'created':
        return resourceAnswer(202, result.request);
      case 'replayed':
        return resourceAnswer(200, result.request, { 'idempotent-replayed': 'true' });
      case 'mismatch':
        return problemAnswer(
          problem(422, 'Idempotency key reused with a different payload', {
            detail: `The ${result.source} was first used for request ${result.requestId} with a different body.`,
            requestId: result.requestId,
          }),
        );
    }
  });
}

/** POST /api/requests/batch: every valid item is accepted, every invalid one reported. */
export async function intakeBatch(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answering(context, async () => {
    const svc = services();
    const raw = await readBounded(request, MAX_BATCH_BYTES);
    if (raw === 'too-large')
      return problemAnswer(problem(413, 'Payload too large', { detail: 'The batch body is over 16 MiB' }));
    const unsigned = signatureProblem(svc.config.webhookSigningSecret, request, raw);
    if (unsigned) return unsigned;
    const body = readJsonBody({
      contentType: request.headers.get('content-type'),
      body: raw,
      maxBytes: MAX_BATCH_BYTES,
    });
    if (!body.ok) return problemAnswer(body.problem);
    const batch = parseBatchRequest(body.value, new Date());
    if (!batch.ok) return problemAnswer(validationProblem(batch.errors));
    const results: BatchItemResult[] = [];
    const valid: Parameters<typeof submitBatch>[0] = [];
    for (const { index, result } of batch.items) {
      if (result.ok) valid.push({ index, parsed: result.value, hash: payloadHash(result.value) });
      else results.push({ index, status: 'rejected', errors: result.errors });
    }
    await svc.ready();
    results.push(...(await submitBatch(valid, { store: svc.store, queue: svc.queue, log: contextLogger(context) })));
    results.sort((a, b) => a.index - b.index);
    const accepted = results.filter((r) => r.status !== 'rejected').length;
    return json(200, { accepted, rejected: results.length - accepted, results });
  });
}

app.http('intake', { route: 'requests', methods: ['POST'], authLevel: 'function', handler: intake });
app.http('intakeBatch', { route: 'requests/batch', methods: ['POST'], authLevel: 'function', handler: intakeBatch });
