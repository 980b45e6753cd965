import {
  BatchResultSchema,
  HealthSchema,
  MAX_BATCH_ITEMS,
  ProblemSchema,
  RequestResourceSchema,
  parseBatchRequest,
  parseListQuery,
} from '../../shared/http/api-schemas';
import type { ChatRequestResource } from '../../shared/core/model';
import { problem, validationProblem } from '../../shared/http/problem';

const NOW = new Date('2025-01-15T10:00:00.000Z');

describe('parseListQuery', () => {
  it('defaults top to 100 and ignores unknown parameters such as the function key', () => {
    // Act
    const result = parseListQuery({ code: 'secret-key', foo: 'bar' }, NOW);

    // Assess
    expect(result).toEqual({ ok: true, value: { top: 100 } });
  });

  it('reads every parameter', () => {
    // Act
    const result = parseListQuery(
      {
        state: 'failed',
        externalId: 'hr-4711',
        since: '2025-01-15T10:00:00+01:00',
        top: '25',
        continuationToken: 'abc',
      },
      NOW,
    );

    // Assess
    expect(result).toEqual({
      ok: true,
      value: {
        state: 'failed',
        externalId: 'hr-4711',
        since: '2025-01-15T09:00:00.000Z',
        top: 25,
        continuationToken: 'abc',
      },
    });
  });

  it.each([
    ['30m', '2025-01-15T09:30:00.000Z'],
    ['1h', '2025-01-15T09:00:00.000Z'],
    ['2d', '2025-01-13T10:00:00.000Z'],
    ['90s', '2025-01-15T09:58:30.000Z'],
  ])('turns since=%s into a time back from now', (since, expected) => {
    expect(parseListQuery({ since }, NOW)).toEqual({ ok: true, value: { since: expected, top: 100 } });
  });

  it('treats empty values as absent', () => {
    expect(parseListQuery({ state: '', top: '', since: '' }, NOW)).toEqual({ ok: true, value: { top: 100 } });
  });

  it.each([
    [{ state: 'done' }, 'state', /one of queued, creating, pending, succeeded, failed/],
    [{ top: '0' }, 'top', /1 to 1000/],
    [{ top: '1001' }, 'top', /1 to 1000/],
    [{ top: '1e2' }, 'top', /whole number/],
    [{ top: '2.5' }, 'top', /whole number/],
    [{ since: 'yesterday' }, 'since', /duration back from now/],
    [{ since: '2025-01-15' }, 'since', /ISO 8601/],
    [{ externalId: 'x'.repeat(129) }, 'externalId', /1 to 128/],
  ])('refuses %p', (query, path, message) => {
    // Act
    const result = parseListQuery(query, NOW);

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]!.path).toBe(path);
      expect(result.errors[0]!.message).toMatch(message);
    }
  });

  it('reports every bad parameter at once', () => {
    // Act
    const result = parseListQuery(
      { state: 'done', since: 'later', top: 'ten', continuationToken: 'x'.repeat(5000) },
      NOW,
    );

    // Assess
    expect(result.ok ? [] : result.errors.map((e) => e.path).sort()).toEqual([
      'continuationToken',
      'since',
      'state',
      'top',
    ]);
  });
});

describe('parseBatchRequest', () => {
  const valid = { chatType: 'oneOnOne', members: ['a@x.com', 'b@x.com'] };

  it('parses every item on its own and prefixes item errors with requests[i]', () => {
    // Act
    const result = parseBatchRequest(
      { requests: [valid, { ...valid, topic: 'x' }, 5, { ...valid, '@odata.type': 'x' }] },
      NOW,
    );

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.items.map((i) => [i.index, i.result.ok])).toEqual([
      [0, true],
      [1, false],
      [2, false],
      [3, false],
    ]);
    const errors = result.items.flatMap((i) => (i.result.ok ? [] : i.result.errors.map((e) => e.path)));
    expect(errors).toEqual(['requests[1].topic', 'requests[2]', 'requests[3]["@odata.type"]']);
  });

  it.each([
    [[], '', /JSON object/],
    [{}, 'requests', /array of chat requests/],
    [{ requests: [] }, 'requests', /at least one/],
    [{ requests: Array.from({ length: MAX_BATCH_ITEMS + 1 }, () => ({})) }, 'requests', /at most 1000/],
    [{ requests: [{}], mode: 'all' }, 'mode', /Unknown field "mode"/],
  ])('refuses the envelope %#', (body, path, message) => {
    // Act
    const result = parseBatchRequest(body, NOW);

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors[0]!.path).toBe(path);
      expect(result.errors[0]!.message).toMatch(message);
    }
  });
});

describe('answer schemas', () => {
  it('accept a full request resource, as the model types it', () => {
    // Prepare
    const resource: ChatRequestResource = {
      id: 'r1',
      externalId: 'hr-4711',
      state: 'failed',
      chatType: 'group',
      topic: 'Welcome',
      members: [
        { user: 'a@x.com', role: 'owner' },
        { user: 'b', role: 'guest', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
      ],
      apps: [
        {
          teamsAppId: 'x',
          rscPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' }],
        },
      ],
      notBefore: '2025-01-15T10:00:00.000Z',
      createdAt: '2025-01-15T10:00:00.000Z',
      updatedAt: '2025-01-15T10:01:00.000Z',
      attempts: 3,
      chat: { id: '19:abc@thread.v2', webUrl: 'https://teams.microsoft.com/l/chat/19:abc' },
      operation: { location: "/chats('19:abc')/operations('1')", status: 'failed', checks: 4 },
      error: {
        code: 'Forbidden',
        message: 'no license',
        httpStatus: 403,
        retryable: false,
        graphRequestId: 'g',
        clientRequestId: 'c',
      },
      callback: { url: 'https://hooks.contoso.com/x', state: 'failed', attempts: 5, lastError: '500' },
    };

    // Act / Assess
    expect(RequestResourceSchema.parse(resource)).toEqual(resource);
    expect(RequestResourceSchema.safeParse({ ...resource, state: 'done' }).success).toBe(false);
  });

  it('accept the problem documents and batch answers the service builds', () => {
    // Act / Assess
    expect(ProblemSchema.safeParse(validationProblem([{ path: 'topic', message: 'bad' }])).success).toBe(true);
    expect(ProblemSchema.safeParse(problem(422, 'mismatch', { requestId: 'r1' })).success).toBe(true);
    expect(
      BatchResultSchema.safeParse({
        accepted: 1,
        rejected: 1,
        results: [
          { index: 0, status: 'accepted', id: 'r1' },
          { index: 1, status: 'rejected', errors: [{ path: 'requests[1]', message: 'x' }] },
        ],
      }).success,
    ).toBe(true);
  });

  it('accept both health answers', () => {
    // Act / Assess
    expect(
      HealthSchema.safeParse({ status: 'unhealthy', config: { ok: false, invalidSettings: ['GRAPH_TENANT_ID'] } })
        .success,
    ).toBe(true);
    expect(
      HealthSchema.safeParse({
        status: 'healthy',
        storage: { ok: true },
        graph: {
          configured: true,
          credential: 'managedIdentity',
          baseUrl: 'https://graph.microsoft.com',
          simulated: false,
        },
        queue: { name: 'chat-requests', approximateDepth: 0 },
        pending: { count: 0 },
        checkedAt: '2025-01-15T10:00:00.000Z',
      }).success,
    ).toBe(true);
  });
});
