import { GraphAnswer } from '../../shared/graph/graph-client';
import {
  backoff,
  chatIdFromLocation,
  CreateContext,
  decideCreateOutcome,
  decideLookupOutcome,
  decidePollOutcome,
  MAX_INVOCATION_EXCEPTIONS,
  MAX_TRANSIENT_FAILURES,
  parseRetryAfter,
  teamsAppIdsOf,
} from '../../shared/core/graph-retry-policy';

const now = new Date('2026-11-24T12:00:00Z');
const ctx: CreateContext = { now, graceMinutes: 240, transientFailures: 0, throttles: 0, random: () => 0.5 };

function response(status: number, body?: unknown, headers: Record<string, string> = {}): GraphAnswer {
  return { kind: 'response', status, body, headers: { requestId: 'req-1', clientRequestId: 'client-1', ...headers } };
}

function graphErrorBody(code: string, message: string) {
  return { error: { code, message, innerError: { 'request-id': 'req-1', 'client-request-id': 'client-1' } } };
}

describe('decideCreateOutcome', () => {
  it('201 → succeeded with the chat fields', () => {
    const outcome = decideCreateOutcome(
      response(201, {
        id: '19:a_b@unq.gbl.spaces',
        webUrl: 'https://teams/x',
        createdDateTime: '2026-01-01T00:00:00Z',
        tenantId: 't',
      }),
      ctx,
    );
    expect(outcome).toEqual({
      kind: 'succeeded',
      chat: {
        id: '19:a_b@unq.gbl.spaces',
        webUrl: 'https://teams/x',
        createdDateTime: '2026-01-01T00:00:00Z',
        tenantId: 't',
      },
    });
  });

  it('201 without a chat id is an unknown outcome, retried', () => {
    const outcome = decideCreateOutcome(response(201, {}), ctx);
    expect(outcome).toMatchObject({ kind: 'retry', outcomeUnknown: true, counts: 'transient' });
  });

  it('202 → pending with the Location', () => {
    const outcome = decideCreateOutcome(response(202, undefined, { location: "/chats('19:x')/operations('op')" }), ctx);
    expect(outcome).toEqual({ kind: 'pending', location: "/chats('19:x')/operations('op')" });
  });

  it('400 → failed with Graph code, message and both request ids', () => {
    const outcome = decideCreateOutcome(
      response(400, graphErrorBody('BadRequest', "The passed-in role 'member' is not supported.")),
      ctx,
    );
    expect(outcome).toEqual({
      kind: 'failed',
      error: {
        code: 'BadRequest',
        message: "The passed-in role 'member' is not supported.",
        httpStatus: 400,
        retryable: false,
        graphRequestId: 'req-1',
        clientRequestId: 'client-1',
      },
    });
  });

  it('403 license → retried inside the grace window, then failed saying so', () => {
    const body = graphErrorBody(
      'Forbidden',
      'Failed to get license information for the user. Ensure user has a valid Office365 license.',
    );
    const first = decideCreateOutcome(response(403, body), ctx);
    expect(first).toMatchObject({ kind: 'retry', counts: 'grace', outcomeUnknown: false });
    expect(first.kind === 'retry' && first.delayMs).toBeGreaterThanOrEqual(60_000);

    const later = decideCreateOutcome(response(403, body), { ...ctx, graceStartedAt: '2026-11-24T11:00:00Z' });
    expect(later.kind === 'retry' && later.delayMs).toBeGreaterThan(first.kind === 'retry' ? first.delayMs : 0);

    const expired = decideCreateOutcome(response(403, body), { ...ctx, graceStartedAt: '2026-11-24T07:00:00Z' });
    expect(expired.kind).toBe('failed');
    expect(expired.kind === 'failed' && expired.error.message).toMatch(/no Teams license/);
    expect(expired.kind === 'failed' && expired.error.message).toMatch(/NEW_USER_GRACE_MINUTES/);
  });

  it('NEW_USER_GRACE_MINUTES=0: a missing license or user fails at once, saying grace is off', () => {
    const noGrace = { ...ctx, graceMinutes: 0 };
    const license = graphErrorBody('Forbidden', 'Failed to get license information for the user.');
    for (const outcome of [
      decideCreateOutcome(response(403, license), noGrace),
      decideCreateOutcome(response(404, graphErrorBody('NotFound', 'Failed to find users')), noGrace),
    ]) {
      expect(outcome.kind).toBe('failed');
      expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/Not retried: NEW_USER_GRACE_MINUTES is 0/);
    }
  });

  it('404 user not found → grace retry', () => {
    const outcome = decideCreateOutcome(
      response(404, graphErrorBody('NotFound', 'Failed to find users with user principal name x')),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: 'retry', counts: 'grace' });
  });

  it('403 missing role permissions → failed, naming the permission to grant', () => {
    const outcome = decideCreateOutcome(
      response(
        403,
        graphErrorBody(
          'Forbidden',
          "Missing role permissions on the request. API requires one of 'Chat.Create, Chat.ReadWrite.All'. Roles on the request ''.",
        ),
      ),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'MissingPermission', retryable: false } });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/Chat\.Create/);
  });

  it('403 not federated → failed with the federation cause, not a permission hint', () => {
    const outcome = decideCreateOutcome(
      response(403, graphErrorBody('Forbidden', 'The user is not federated with this organization.')),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'MemberNotFederated', graphRequestId: 'req-1' } });
    const message = outcome.kind === 'failed' ? outcome.error.message : '';
    expect(message).toMatch(/external access/);
    expect(message).toMatch(/not federated with this organization/);
    expect(message).not.toMatch(/Chat\.Create/);
  });

  it("403 of an unknown kind → failed, keeping Graph's words and saying the cause is not known", () => {
    const outcome = decideCreateOutcome(response(403, graphErrorBody('Forbidden', 'Something new')), ctx);
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'Forbidden' } });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/does not know.*Something new/);
  });

  it('404 for the app (not a member) → failed at once naming the app, no new-hire grace', () => {
    const outcome = decideCreateOutcome(
      response(
        404,
        graphErrorBody(
          'NotFound',
          "User is trying to create a chat entitlement for a non existent App definition 'x'.",
        ),
      ),
      { ...ctx, teamsAppIds: ['8e55a7b1-6766-4f0a-8610-ecacfe3d569a'] },
    );
    expect(outcome).toMatchObject({
      kind: 'failed',
      error: { code: 'TeamsAppNotFound', httpStatus: 404, retryable: false, graphRequestId: 'req-1' },
    });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/'8e55a7b1-6766-4f0a-8610-ecacfe3d569a'/);
  });

  it('a member not found whose UPN reads like an app is still a new hire, not a missing app', () => {
    const outcome = decideCreateOutcome(
      response(
        404,
        graphErrorBody('NotFound', 'Failed to find users with user principal name app.definition.catalog@contoso.com.'),
      ),
      { ...ctx, teamsAppIds: ['x'] },
    );
    expect(outcome).toMatchObject({ kind: 'retry', counts: 'grace' });
  });

  it('412 PreconditionFailed → failed: the call is refused app-only, nothing to grant or retry', () => {
    const outcome = decideCreateOutcome(
      response(412, graphErrorBody('PreconditionFailed', 'Requested API is not supported in application-only context')),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'PreconditionFailed', retryable: false } });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/application-only context/);
  });

  it('400 "Exception has been thrown by the target of an invocation." → a bounded retry, outcome unknown', () => {
    const answer = response(
      400,
      graphErrorBody('BadRequest', 'Exception has been thrown by the target of an invocation.'),
    );
    const first = decideCreateOutcome(answer, ctx);
    expect(first).toMatchObject({ kind: 'retry', outcomeUnknown: true, counts: 'transient' });
    const last = decideCreateOutcome(answer, { ...ctx, transientFailures: MAX_INVOCATION_EXCEPTIONS - 1 });
    expect(last).toMatchObject({ kind: 'failed', outcomeUnknown: true, error: { retryable: false } });
    expect(last.kind === 'failed' && last.error.message).toMatch(/server fault.*3 attempts/);
    // Any other 400 is still the caller's and fails at once.
    expect(decideCreateOutcome(response(400, graphErrorBody('BadRequest', 'Invalid role')), ctx).kind).toBe('failed');
  });

  it('teamsAppIdsOf reads both bind forms', () => {
    expect(
      teamsAppIdsOf({
        installedApps: [
          { 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742' },
          { 'teamsApp@odata.bind': "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps('a''b')" },
        ],
      }),
    ).toEqual(['05F59CEC-A742', "a'b"]);
    expect(teamsAppIdsOf(undefined)).toEqual([]);
  });

  it('429 honours fractional Retry-After and pauses everyone', () => {
    const outcome = decideCreateOutcome(
      response(429, graphErrorBody('TooManyRequests', 'slow down'), { retryAfter: '2.128' }),
      ctx,
    );
    expect(outcome).toMatchObject({
      kind: 'retry',
      delayMs: 2128,
      throttledForMs: 2128,
      counts: 'throttle',
      outcomeUnknown: false,
    });
  });

  it('429 without Retry-After backs off exponentially with jitter', () => {
    const a = decideCreateOutcome(response(429), { ...ctx, throttles: 0 });
    const b = decideCreateOutcome(response(429), { ...ctx, throttles: 4 });
    expect(a.kind === 'retry' && b.kind === 'retry' && b.delayMs > a.delayMs).toBe(true);
  });

  it('5xx and network errors are transient with unknown outcome, until the limit', () => {
    for (const answer of [
      response(503, graphErrorBody('ServiceUnavailable', 'x')),
      {
        kind: 'network',
        code: 'ECONNRESET',
        message: 'socket hang up',
        timedOut: false,
        clientRequestId: 'c',
      } as GraphAnswer,
      { kind: 'network', code: 'Timeout', message: 'aborted', timedOut: true, clientRequestId: 'c' } as GraphAnswer,
    ]) {
      expect(decideCreateOutcome(answer, ctx)).toMatchObject({
        kind: 'retry',
        outcomeUnknown: true,
        counts: 'transient',
      });
      const last = decideCreateOutcome(answer, { ...ctx, transientFailures: MAX_TRANSIENT_FAILURES - 1 });
      expect(last.kind).toBe('failed');
    }
  });

  it('503 with Retry-After waits at least that long', () => {
    const outcome = decideCreateOutcome(response(503, undefined, { retryAfter: '120' }), ctx);
    expect(outcome.kind === 'retry' && outcome.delayMs).toBeGreaterThanOrEqual(120_000);
  });

  it('token configuration errors fail at once with what to fix; token outages retry', () => {
    const bad = decideCreateOutcome(
      {
        kind: 'token',
        code: 'invalid_client',
        message: 'AADSTS7000215: Invalid client secret provided.',
        retryable: false,
        clientRequestId: 'c',
      },
      ctx,
    );
    expect(bad.kind === 'failed' && bad.error.message).toMatch(/GRAPH_CLIENT_ID/);
    const down = decideCreateOutcome(
      { kind: 'token', code: 'token_error', message: 'ECONNREFUSED', retryable: true, clientRequestId: 'c' },
      ctx,
    );
    expect(down).toMatchObject({ kind: 'retry', outcomeUnknown: false });
  });
});

describe("decideLookupOutcome (listing a member's chats before posting again)", () => {
  it('403 fails naming the read permission the lookup needs', () => {
    const outcome = decideLookupOutcome(response(403, graphErrorBody('Forbidden', 'Missing role')), ctx);
    expect(outcome.kind).toBe('failed');
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/Chat\.ReadBasic\.All/);
    expect(outcome.kind === 'failed' && outcome.error.graphRequestId).toBe('req-1');
  });

  it('429 and 5xx retry, keeping the earlier outcome unknown (never a blind POST)', () => {
    const throttled = decideLookupOutcome(
      response(429, graphErrorBody('TooManyRequests', 'x'), { retryAfter: '2' }),
      ctx,
    );
    expect(throttled).toMatchObject({ kind: 'retry', delayMs: 2000, outcomeUnknown: true });
    // A read throttled spent the read budget, not the create budget: the fleet's create rate is not cut.
    expect(throttled.kind === 'retry' && throttled.throttledForMs).toBeUndefined();
    const down = decideLookupOutcome(response(503, graphErrorBody('ServiceUnavailable', 'x')), ctx);
    expect(down).toMatchObject({ kind: 'retry', outcomeUnknown: true, counts: 'transient' });
  });

  it('404 (the member is not replicated yet) waits out the grace window like a create', () => {
    const outcome = decideLookupOutcome(response(404, graphErrorBody('NotFound', 'no user')), ctx);
    expect(outcome).toMatchObject({ kind: 'retry', counts: 'grace', outcomeUnknown: true });
  });

  it('412 fails saying the listing is refused app-only', () => {
    const outcome = decideLookupOutcome(
      response(412, graphErrorBody('PreconditionFailed', 'Requested API is not supported in application-only context')),
      ctx,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'PreconditionFailed' } });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/listing a member's chats in application-only/);
  });

  it('other 4xx fail saying the earlier attempt could not be checked', () => {
    const outcome = decideLookupOutcome(response(400, graphErrorBody('BadRequest', 'bad filter')), ctx);
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/earlier attempt whose outcome is unknown/);
  });
});

describe('parseRetryAfter / backoff', () => {
  it('reads seconds, fractions and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('backoff grows and stays under the cap', () => {
    expect(backoff(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoff(3, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoff(20, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoff(3, 1000, 60_000, () => 0)).toBe(4000);
  });
});

describe('decidePollOutcome', () => {
  const poll = {
    now,
    startedAt: '2026-11-24T11:59:00Z',
    checks: 1,
    deadlineMinutes: 30,
    random: () => 0.5,
    chatIdFromLocation: '19:x@thread.v2',
  };
  it("notStarted / inProgress wait Microsoft's 30 s, then longer after ten checks, up to 4×", () => {
    const wait = (checks: number, checkMinMs?: number) =>
      decidePollOutcome(response(200, { status: checks % 2 ? 'inProgress' : 'notStarted' }), {
        ...poll,
        checks,
        ...(checkMinMs ? { checkMinMs } : {}),
      });
    expect(wait(0)).toMatchObject({ kind: 'wait', status: 'notStarted', nextCheckInMs: 30_000 });
    expect(wait(9)).toMatchObject({ kind: 'wait', status: 'inProgress', nextCheckInMs: 30_000 });
    expect(wait(10)).toMatchObject({ nextCheckInMs: 60_000 });
    expect(wait(50)).toMatchObject({ nextCheckInMs: 120_000 });
    // OPERATION_CHECK_MIN_SECONDS moves the whole schedule.
    expect(wait(0, 1_000)).toMatchObject({ nextCheckInMs: 1_000 });
    expect(wait(0, 90_000)).toMatchObject({ nextCheckInMs: 90_000 });
  });
  it('succeeded names the chat from targetResourceId', () => {
    expect(decidePollOutcome(response(200, { status: 'succeeded', targetResourceId: '19:y@thread.v2' }), poll)).toEqual(
      {
        kind: 'succeeded',
        chatId: '19:y@thread.v2',
      },
    );
  });
  it('failed carries the operation error', () => {
    const outcome = decidePollOutcome(
      response(200, { status: 'failed', error: { code: 'Boom', message: 'app install failed' } }),
      poll,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'Boom' } });
    expect(outcome.kind === 'failed' && outcome.error.message).toMatch(/app install failed/);
  });
  it('invalid and unknownFutureValue fail with a clear reason', () => {
    for (const status of ['invalid', 'unknownFutureValue']) {
      const outcome = decidePollOutcome(response(200, { status }), poll);
      expect(outcome.kind === 'failed' && outcome.error.message).toContain(status);
    }
  });
  it('404 → vanished with the chat id from the Location', () => {
    expect(decidePollOutcome(response(404), poll)).toEqual({ kind: 'vanished', chatId: '19:x@thread.v2' });
  });
  it('past the deadline → failed', () => {
    const outcome = decidePollOutcome(response(200, { status: 'inProgress' }), {
      ...poll,
      startedAt: '2026-11-24T11:00:00Z',
    });
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'OperationTimeout' } });
  });
  it('past the deadline, an unanswered check asks about the chat instead of failing', () => {
    const late = { ...poll, startedAt: '2026-11-24T11:00:00Z' };
    for (const answer of [response(503), response(429, undefined, { retryAfter: '5' })]) {
      expect(decidePollOutcome(answer, late)).toMatchObject({
        kind: 'unanswered',
        chatId: '19:x@thread.v2',
        error: { retryable: true },
      });
    }
  });
  it('429 waits for Retry-After and signals throttling; 5xx waits', () => {
    // The next check keeps the 30 s interval; the read pause is Retry-After's.
    expect(decidePollOutcome(response(429, undefined, { retryAfter: '7' }), poll)).toMatchObject({
      kind: 'wait',
      nextCheckInMs: 30_000,
      throttledForMs: 7000,
    });
    expect(decidePollOutcome(response(429, undefined, { retryAfter: '45' }), poll)).toMatchObject({
      nextCheckInMs: 45_000,
      throttledForMs: 45_000,
    });
    expect(decidePollOutcome(response(502), poll)).toMatchObject({ kind: 'wait' });
  });
  it('412 fails saying the operation cannot be read app-only', () => {
    const outcome = decidePollOutcome(
      response(412, graphErrorBody('PreconditionFailed', 'Requested API is not supported in application-only context')),
      poll,
    );
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'PreconditionFailed', retryable: false } });
  });

  it('reads chat ids from both Location forms', () => {
    expect(chatIdFromLocation("/chats('19:abc@thread.v2')/operations('1')")).toBe('19:abc@thread.v2');
    expect(chatIdFromLocation('https://g/beta/chats/19%3Aabc%40thread.v2/operations/1')).toBe('19:abc@thread.v2');
  });
});
