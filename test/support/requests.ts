import { newRequestId } from '../../shared/core/ids';
import type { ChatRequest } from '../../shared/core/model';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import type { RequestStore } from '../../shared/core/request-store';
import { newChatRequest } from '../../shared/use-cases/intake';

/** A request as intake builds it from `body` (which must be valid: the test's own input). Not stored. */
export function testRequest(body: unknown, now: Date = new Date()): ChatRequest {
  const parsed = parseProvisioningRequest(body, now);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now), now);
}

/** `testRequest(body)`, stored as intake leaves the row (no queue message). */
export async function seedRequest(store: RequestStore, body: unknown, now: Date = new Date()): Promise<ChatRequest> {
  const request = testRequest(body, now);
  await store.create(request);
  return request;
}
