import fc from 'fast-check';
import { checkRows, fieldName, formatOf, readCsv, readInputFile, readJsonl, ValidateRequest } from '../../cli/csv-rows';
import { parseProvisioningRequest } from '../../shared/core/request/parse';

const NOW = new Date('2026-11-24T12:00:00Z');
const HEADER = 'externalId,chatType,topic,members,owners,guests,notBefore,callbackUrl,appId';

describe('readCsv: rows to compact requests', () => {
  it('maps every column, splitting people cells and leaving empty cells out', () => {
    // Prepare
    const csv = [
      HEADER,
      'hr-1,group,Welcome Ana,ana@contoso.com; li@contoso.com,mgr@contoso.com,x@fabrikam.com,2027-01-04T08:00:00Z,https://hr.contoso.com/cb,app-1',
      'hr-2,OneOnOne,,ben@contoso.com;82af01c5-f7cc-4a2e-a728-3a5df21afd9d|4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1,,,,,',
    ].join('\n');

    // Act
    const { rows, problems } = readCsv(csv);

    // Assess
    expect(problems).toEqual([]);
    expect(rows.map((row) => row.body)).toEqual([
      {
        externalId: 'hr-1',
        chatType: 'group',
        topic: 'Welcome Ana',
        members: ['ana@contoso.com', 'li@contoso.com', 'mgr@contoso.com', { user: 'x@fabrikam.com', role: 'guest' }],
        notBefore: '2027-01-04T08:00:00Z',
        callbackUrl: 'https://hr.contoso.com/cb',
        apps: [{ teamsAppId: 'app-1' }],
      },
      {
        externalId: 'hr-2',
        chatType: 'oneOnOne',
        members: [
          'ben@contoso.com',
          { user: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
        ],
      },
    ]);
    expect(rows.map((row) => [row.line, row.externalId])).toEqual([
      [2, 'hr-1'],
      [3, 'hr-2'],
    ]);
  });

  it('accepts the minimal header, any column order and spreadsheet-style header names', () => {
    // Prepare
    const csv = 'Members,External ID,chat_type\n"a@contoso.com;b@contoso.com",hr-9,oneOnOne\n';

    // Act
    const { rows, problems } = readCsv(csv);

    // Assess
    expect(problems).toEqual([]);
    expect(rows[0]?.body).toEqual({
      externalId: 'hr-9',
      chatType: 'oneOnOne',
      members: ['a@contoso.com', 'b@contoso.com'],
    });
  });

  it('reports real line numbers: multi-line quoted cells, blank lines, BOM, LF and CRLF', () => {
    for (const newline of ['\n', '\r\n']) {
      // Prepare: row 2 spans lines 2-4 (members on three lines, as Alt+Enter in a cell writes them).
      const csv =
        '\uFEFF' +
        [
          'externalId,chatType,topic,members',
          'hr-1,group,"Welcome,',
          'team",a@contoso.com;b@contoso.com',
          '',
          'hr-2,group,Hi,"c@contoso.com',
          'd@contoso.com',
          '',
          'e@contoso.com"',
          ',,,',
          'hr-3,oneOnOne,,f@contoso.com;g@contoso.com',
        ].join(newline);

      // Act
      const { rows, problems } = readCsv(Buffer.from(csv, 'utf8'));

      // Assess
      expect(problems).toEqual([]);
      expect(rows.map((row) => [row.line, row.externalId])).toEqual([
        [2, 'hr-1'],
        [5, 'hr-2'],
        [10, 'hr-3'],
      ]);
      expect(rows[0]?.body.topic).toBe(`Welcome,${newline}team`);
      expect(rows[1]?.body.members).toEqual(['c@contoso.com', 'd@contoso.com', 'e@contoso.com']);
    }
  });

  it('finds each row at the line it starts on, whatever the cells hold (property)', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é'), maxLength: 12 });
    fc.assert(
      fc.property(fc.array(cell, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), (topics, newline) => {
        // Prepare: one row per topic, every topic quoted per RFC 4180.
        const lines = ['externalId,chatType,topic,members'];
        const expected: number[] = [];
        let line = 2;
        topics.forEach((topic, i) => {
          expected.push(line);
          const record = `id-${i},group,"${topic.replace(/"/g, '""')}",a@contoso.com;b@contoso.com`;
          lines.push(record);
          line += record.split(/\r\n|\n/).length;
        });

        // Act
        const { rows, problems } = readCsv(lines.join(newline) + newline);

        // Assess
        expect(problems).toEqual([]);
        expect(rows.map((row) => row.line)).toEqual(expected);
        rows.forEach((row, i) => {
          const topic = (topics[i] ?? '').trim();
          expect(row.body.topic).toBe(topic === '' ? undefined : topic);
        });
      }),
    );
  });

  it('reports row problems it can see before validation, with the column and entry', () => {
    // Prepare
    const csv = [
      'externalId,chatType,topic,members,guests',
      ',group,No id,a@contoso.com;b@contoso.com,',
      'hr-2,group,Hello, world,a@contoso.com;b@contoso.com,',
      'hr-3,group,Fed,a@contoso.com;b@contoso.com|,',
    ].join('\n');

    // Act
    const { rows } = readCsv(csv);

    // Assess
    expect(rows.map((row) => [row.line, row.errors])).toEqual([
      [2, [{ path: 'externalId', message: expect.stringContaining('required in a file') }]],
      [3, [{ path: 'row', message: expect.stringContaining('6 cells but the header has 5 columns') }]],
      [4, [{ path: 'members entry 2', message: expect.stringContaining('objectId|tenantId') }]],
    ]);
  });

  it.each([
    ['an unknown column', 'externalId,chatType,members,guest\n', 'unknown column "guest"'],
    ['a missing column', 'externalId,topic\n', 'missing column "chatType"'],
    ['a column twice', 'externalId,chatType,members,Members\n', 'column "members" appears twice'],
    ['a ";"-separated header', 'externalId;chatType;members\n', 'separated by ";"'],
    ['a tab-separated header', 'externalId\tchatType\tmembers\n', 'separated by tabs'],
    ['an empty file', '\n\n', 'the file is empty'],
    ['an unclosed quote', `${HEADER}\nhr-1,group,"Welcome,a@x.com\n`, 'Quote Not Closed'],
  ])('refuses the whole file for %s', (_name, csv, message) => {
    // Act
    const { rows, problems } = readCsv(csv);

    // Assess
    expect(rows).toEqual([]);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    expect(problems.length).toBeGreaterThan(0);
  });
});

describe('readJsonl', () => {
  it('keeps each object as it is, with its line number; blank lines still count', () => {
    // Prepare
    const text = [
      '{"externalId":"hr-1","chatType":"oneOnOne","members":["a@contoso.com","b@contoso.com"]}',
      '',
      '{"externalId":"hr-2", oops',
      '[1,2]',
      '{"chatType":"group"}',
    ].join('\r\n');

    // Act
    const { rows } = readJsonl(text);

    // Assess
    expect(rows.map((row) => [row.line, row.externalId, row.errors.map((e) => e.message)])).toEqual([
      [1, 'hr-1', []],
      [3, undefined, [expect.stringContaining('not valid JSON')]],
      [4, undefined, ['must be one JSON object (a request)']],
      [5, undefined, [expect.stringContaining('required in a file')]],
    ]);
    expect(rows[0]?.body).toEqual({
      externalId: 'hr-1',
      chatType: 'oneOnOne',
      members: ['a@contoso.com', 'b@contoso.com'],
    });
  });
});

describe('checkRows', () => {
  it('lists every bad row with its line and field in the file’s words, using the server’s validation', () => {
    // Prepare
    const csv = [
      'externalId,chatType,topic,members,owners,guests',
      'hr-1,group,Fine,a@contoso.com;b@contoso.com,,',
      'hr-2,oneOnOne,Not allowed,a@contoso.com;b@contoso.com,,',
      'hr-3,group,Dup,a@contoso.com,m@contoso.com,a@contoso.com',
      'hr-1,group,Again,a@contoso.com;b@contoso.com,,',
      'hr-5,meeting,,a@contoso.com;b@contoso.com,,',
      'hr-6,group,"Ops: weekly",a@contoso.com;b@contoso.com,,',
    ].join('\n');
    const { rows } = readCsv(csv);

    // Act
    const { valid, invalid } = checkRows(rows, parseProvisioningRequest, NOW);

    // Assess
    expect(valid.map((row) => row.line)).toEqual([2]);
    const report = invalid.map((bad) => [bad.row.line, bad.errors.map((error) => error.field)]);
    expect(report).toEqual([
      [3, ['topic']],
      [4, ['guests entry 1']],
      [5, ['externalId']],
      [6, ['chatType']],
      [7, ['topic']],
    ]);
    expect(invalid[2]?.errors[0]?.message).toBe('"hr-1" is already used on line 2');
    expect(invalid[1]?.errors[0]?.message).toContain('is the same user as members entry 1');
  });

  it('does not run the request check on rows that already have problems', () => {
    // Prepare
    const validate = jest.fn<ReturnType<ValidateRequest>, Parameters<ValidateRequest>>(() => ({ ok: true }));
    const { rows } = readCsv('externalId,chatType,members\n,group,a@x.com;b@x.com\nhr-2,group,a@x.com;b@x.com\n');

    // Act
    const { valid, invalid } = checkRows(rows, validate, NOW);

    // Assess
    expect(validate).toHaveBeenCalledTimes(1);
    expect(valid.map((row) => row.line)).toEqual([3]);
    expect(invalid.map((bad) => bad.row.line)).toEqual([2]);
  });
});

describe('fieldName', () => {
  const csvRow = {
    line: 2,
    body: {},
    errors: [],
    memberSources: [
      { column: 'members' as const, entry: 1 },
      { column: 'owners' as const, entry: 1 },
      { column: 'guests' as const, entry: 1 },
    ],
  };

  it.each([
    ['members[2].user', 'guests entry 1'],
    ['members[1]', 'owners entry 1'],
    ['members', 'members'],
    ['apps[0].teamsAppId', 'appId'],
    ['topic', 'topic'],
    ['', 'row'],
  ])('names %s as %s for a CSV row', (path, expected) => {
    expect(fieldName(csvRow, path)).toBe(expected);
  });

  it('keeps JSON paths for JSONL rows', () => {
    expect(fieldName({ line: 1, body: {}, errors: [] }, 'members[2].user')).toBe('members[2].user');
  });
});

describe('formatOf', () => {
  it.each([
    ['a.csv', 'csv'],
    ['A.CSV', 'csv'],
    ['b.jsonl', 'jsonl'],
    ['b.ndjson', 'jsonl'],
    ['c.json', undefined],
  ])('%s → %s', (name, expected) => {
    expect(formatOf(name)).toBe(expected);
  });
});

describe('readInputFile: the text encoding', () => {
  // Excel's "CSV (Comma delimited)" writes Windows-1252: é is the single byte 0xE9.
  const latin1 = Buffer.from(
    'externalId,chatType,topic,members\nhr-1,group,Bienvenue Zoé,a@contoso.com;b@contoso.com\n',
    'latin1',
  );

  it('refuses a file that is not UTF-8, naming the line and the byte, instead of storing é as �', () => {
    const { rows, problems } = readInputFile(latin1, 'csv');
    expect(rows).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^line 2: the file is not UTF-8 text \(byte 0xE9 .* "é"\)/);
    expect(problems[0]).toContain('--encoding latin1');
  });

  it('reads it as the encoding it is said to be', () => {
    const { rows, problems } = readInputFile(latin1, 'csv', 'latin1');
    expect(problems).toEqual([]);
    expect(rows[0]?.body.topic).toBe('Bienvenue Zoé');
  });

  it('reads UTF-8 (with or without a BOM) as before, and says so for UTF-16', () => {
    const utf8 = Buffer.from(
      '\uFEFFexternalId,chatType,topic,members\nhr-1,group,Zoé,a@contoso.com;b@contoso.com\n',
      'utf8',
    );
    expect(readInputFile(utf8, 'csv').rows[0]?.body.topic).toBe('Zoé');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('externalId,chatType\n', 'utf16le')]);
    expect(readInputFile(utf16, 'csv').problems[0]).toMatch(/UTF-16 text, not UTF-8.*--encoding utf-16le/);
    expect(readInputFile(utf16, 'csv', 'utf-16le').problems[0]).toContain('missing column "members"');
  });
});
