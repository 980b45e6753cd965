import { PROBLEM_CONTENT_TYPE, ProblemType, isProblem, problem, validationProblem } from '../../shared/http/problem';

describe('problem', () => {
  it.each([
    [400, ProblemType.validation],
    [401, ProblemType.unauthorized],
    [404, ProblemType.notFound],
    [409, ProblemType.conflict],
    [413, ProblemType.payloadTooLarge],
    [415, ProblemType.unsupportedMediaType],
    [422, ProblemType.idempotencyMismatch],
    [500, ProblemType.internal],
    [503, ProblemType.unavailable],
  ])('gives status %i the stable type %s', (status, type) => {
    // Act
    const doc = problem(status, 'Title');

    // Assess
    expect(doc).toEqual({ type, title: 'Title', status });
    expect(type).toMatch(/^https:\/\/chat-provisioner\.dev\/problems\/[a-z-]+$/);
  });

  it('uses about:blank for a status without a kind of its own (RFC 9457)', () => {
    expect(problem(429, 'Too Many Requests').type).toBe('about:blank');
  });

  it('takes detail, instance, errors, extensions and a type from extra, but never status or title', () => {
    // Act
    const doc = problem(409, 'Only failed requests can be retried', {
      type: ProblemType.conflict,
      detail: 'Request r1 is queued',
      instance: '/api/requests/r1/retry',
      state: 'queued',
      status: 200,
      title: 'other',
      missing: undefined,
    });

    // Assess
    expect(doc).toEqual({
      type: ProblemType.conflict,
      title: 'Only failed requests can be retried',
      status: 409,
      detail: 'Request r1 is queued',
      instance: '/api/requests/r1/retry',
      state: 'queued',
    });
    expect(Object.keys(doc)).not.toContain('missing');
  });

  it('has the RFC 9457 media type', () => {
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json');
  });
});

describe('validationProblem', () => {
  it('is a 400 with every error and a detail that names the one problem', () => {
    // Act
    const doc = validationProblem([{ path: 'topic', message: 'topic must not contain ":"' }]);

    // Assess
    expect(doc).toEqual({
      type: ProblemType.validation,
      title: 'The request is not valid',
      status: 400,
      detail: 'topic: topic must not contain ":"',
      errors: [{ path: 'topic', message: 'topic must not contain ":"' }],
    });
    expect(isProblem(doc)).toBe(true);
  });

  it('counts several problems, or takes the given detail', () => {
    // Prepare
    const errors = [
      { path: '', message: 'a' },
      { path: 'b', message: 'b' },
    ];

    // Act / Assess
    expect(validationProblem(errors).detail).toBe('2 problems were found; see errors.');
    expect(validationProblem(errors, 'Batch item 3').detail).toBe('Batch item 3');
    expect(validationProblem([{ path: '', message: 'not JSON' }]).detail).toBe('The body: not JSON');
  });
});

describe('isProblem', () => {
  it('tells problem documents from other values', () => {
    expect(isProblem(problem(404, 'Not found'))).toBe(true);
    expect(isProblem({ title: 'x', status: 1 })).toBe(false);
    expect(isProblem(null)).toBe(false);
  });
});
