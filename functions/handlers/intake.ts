import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  answering,
  contextLogger,
  json,
  problemAnswer,
  readBounded,
  resourceAnswer,
  signatureProblem,
} from '../../shared/http/responses';
import { StorageUnavailableError } from '../../shared/core/errors';
import { batchItemKeysOf, idempotencyKeysOf, payloadHash } from '../../shared/core/idempotency';
import {
  submitBatch,
  storageSizeProblem,
  submitRequest,
  BatchItem,
  BatchItemResult,
} from '../../shared/use-cases/intake';
import { parseBatchRequest } from '../../shared/http/api-schemas';
import { DEFAULT_MAX_BODY_BYTES, MAX_BATCH_BODY_BYTES, readJsonBody } from '../../shared/http/json-body';
import { problem, validationProblem } from '../../shared/http/problem';
import type { FieldError } from '../../shared/core/request/fields';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { parseOptionsFor } from '../../shared/core/request/parsed';
import { services } from '../../shared/platform/composition-root';

const MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;
const MAX_BATCH_BYTES = MAX_BATCH_BODY_BYTES;
const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

/** The Idempotency-Key header, or the problem with it. */
function idempotencyKeyHeader(request: HttpRequest): { value?: string; errors: FieldError[] } {
  const value = request.headers.get('idempotency-key') ?? undefined;
  if (value !== undefined && (value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    return {
      errors: [
        {
          path: 'headers.Idempotency-Key',
          message: `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters; it has ${value.length}`,
        },
      ],
    };
  }
  return { value, errors: [] };
}

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
    const parsed = parseProvisioningRequest(body.value, new Date(), parseOptionsFor(svc.config));
    const header = idempotencyKeyHeader(request);
    if (!parsed.ok || header.errors.length > 0) {
      return problemAnswer(validationProblem([...(parsed.ok ? [] : parsed.errors), ...header.errors]));
    }

    const hash = payloadHash(parsed.value);
    const tooLarge = storageSizeProblem(parsed.value, hash);
    if (tooLarge) return problemAnswer(problem(413, 'The request is too large to store', { detail: tooLarge }));

    const keys = idempotencyKeysOf(parsed.value, {
      idempotencyKey: header.value,
      webhookId: request.headers.get('webhook-id') ?? undefined,
    });
    await svc.ready();
    const result = await submitRequest(parsed.value, hash, keys, {
      store: svc.store,
      queue: svc.queue,
      log: contextLogger(context),
    });
    switch (result.kind) {
      case 'created':
        // Also when the message was deferred: the row and its unsent marker are written, the timer sends it.
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
    const batch = parseBatchRequest(body.value, new Date(), parseOptionsFor(svc.config));
    const header = idempotencyKeyHeader(request);
    if (!batch.ok || header.errors.length > 0) {
      return problemAnswer(validationProblem([...(batch.ok ? [] : batch.errors), ...header.errors]));
    }
    const batchKeys = { idempotencyKey: header.value, webhookId: request.headers.get('webhook-id') ?? undefined };
    const results: BatchItemResult[] = [];
    const valid: BatchItem[] = [];
    for (const { index, result } of batch.items) {
      if (!result.ok) {
        results.push({ index, status: 'rejected', errors: result.errors });
        continue;
      }
      const hash = payloadHash(result.value);
      const tooLarge = storageSizeProblem(result.value, hash);
      if (tooLarge) {
        results.push({ index, status: 'rejected', errors: [{ path: `requests[${index}]`, message: tooLarge }] });
        continue;
      }
      valid.push({ index, parsed: result.value, hash, keys: batchItemKeysOf(result.value, index, batchKeys) });
    }
    await svc.ready();
    const submitted = await submitBatch(valid, { store: svc.store, queue: svc.queue, log: contextLogger(context) });
    results.push(...submitted.results);
    results.sort((a, b) => a.index - b.index);
    const accepted = results.filter((r) => r.status !== 'rejected').length;
    // Nothing taken because storage is down: the batch as a whole is worth retrying later.
    if (submitted.storageUnavailable && accepted === 0)
      throw new StorageUnavailableError('Storage is unavailable (batch)');
    return json(200, { accepted, rejected: results.length - accepted, results });
  });
}
