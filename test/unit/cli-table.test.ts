import { cleanCell, formatBlock, formatTable } from '../../cli/table';
import { requestBlock, requestTable } from '../../cli/request-view';
import type { ChatRequestResource } from '../../shared/core/model';

describe('formatTable', () => {
  it('aligns columns, right-aligns numbers and leaves no trailing spaces', () => {
    // Act
    const lines = formatTable(
      [{ header: 'ID' }, { header: 'N', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1', ''],
        ['bbbb', '100', 'x'],
      ],
    );

    // Assess
    expect(lines).toEqual(['ID      N  NOTE', 'a       1', 'bbbb  100  x']);
  });

  it('cuts long cells with an ellipsis and flattens line breaks', () => {
    // Act
    const lines = formatTable([{ header: 'ERROR', maxWidth: 10 }], [['Forbidden:\nno license for the user']]);

    // Assess
    expect(lines).toEqual(['ERROR', 'Forbidden…']);
  });

  it('treats missing cells as empty', () => {
    expect(formatTable([{ header: 'A' }, { header: 'B' }], [['x']])).toEqual(['A  B', 'x']);
  });
});

describe('formatBlock', () => {
  it('pads labels to one width and leaves out empty values', () => {
    expect(
      formatBlock([
        ['id', 'r-1'],
        ['externalId', undefined],
        ['state', 'failed'],
        ['topic', ''],
      ]),
    ).toEqual(['id     r-1', 'state  failed']);
  });
});

describe('cleanCell', () => {
  it('replaces control characters with one space', () => {
    expect(cleanCell(' a\t\tb\r\nc\u0007 ')).toBe('a b c');
  });
});

describe('request views', () => {
  const failed: ChatRequestResource = {
    id: '0193a1b2-0000-7000-8000-000000000001',
    externalId: 'hr-4711',
    state: 'failed',
    chatType: 'group',
    topic: 'Welcome Ana',
    members: [
      { user: 'ana@contoso.com', role: 'owner' },
      { user: 'mgr@contoso.com', role: 'owner' },
      { user: 'x@fabrikam.com', role: 'guest' },
    ],
    createdAt: '2026-11-24T10:00:00.000Z',
    updatedAt: '2026-11-24T10:05:00.000Z',
    attempts: 3,
    error: {
      code: 'Forbidden',
      message: 'Failed to get license information for the user',
      httpStatus: 403,
      retryable: false,
      graphRequestId: 'g-1',
    },
    callback: { url: 'https://hr.contoso.com/hooks?token=secret', state: 'delivered', attempts: 1 },
  };

  it('shows a request as a block: member counts, not addresses; callback without its query', () => {
    // Act
    const text = requestBlock(failed).join('\n');

    // Assess
    expect(text).toContain('state             failed');
    expect(text).toContain('members           3 (2 owners, 1 guest)');
    expect(text).toContain('error             Forbidden: Failed to get license information for the user');
    expect(text).toContain('error detail      HTTP 403, retryable: no');
    expect(text).toContain('graph request id  g-1');
    expect(text).toContain('callback          delivered after 1 attempt to https://hr.contoso.com/hooks');
    expect(text).not.toContain('ana@contoso.com');
    expect(text).not.toContain('secret');
    expect(text).not.toContain('waiting');
  });

  it("shows why an open request waits (the service's waiting field)", () => {
    const text = requestBlock({
      ...failed,
      state: 'creating',
      error: undefined,
      waiting: {
        reason: 'leased',
        until: '2026-11-24T10:12:00Z',
        message: 'The host running attempt 1 stopped answering.',
      },
    }).join('\n');
    expect(text).toMatch(/\nwaiting +leased: The host running attempt 1 stopped answering\.\n/);
  });

  it('shows requests as a table with the error and graph request id', () => {
    // Act
    const lines = requestTable([failed, { ...failed, id: 'r-2', state: 'succeeded', error: undefined, attempts: 1 }]);

    // Assess
    expect(lines[0]).toMatch(/^ID\s+EXTERNAL ID\s+STATE\s+WAITING\s+ATTEMPTS\s+UPDATED\s+ERROR\s+GRAPH REQUEST ID$/);
    expect(lines[1]).toContain('failed');
    expect(lines[1]).toContain('Forbidden: Failed to get license information for the user');
    expect(lines[1]).toMatch(/g-1$/);
    expect(lines[2]).toMatch(/^r-2\s+hr-4711\s+succeeded\s+1\s+2026-11-24T10:05:00.000Z$/);
  });
});
