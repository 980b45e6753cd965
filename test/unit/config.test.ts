import { ConfigError, DEFAULTS, loadConfig, pollSchedule, queueNames } from '../../shared/platform/config';

const storage =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ AzureWebJobsStorage: storage });
    expect(config).toMatchObject({
      queueName: 'chat-requests',
      poisonQueueName: 'chat-requests-poison',
      tableName: 'ChatRequests',
      pollSchedule: DEFAULTS.POLL_SCHEDULE,
      graph: {
        baseUrl: 'https://graph.microsoft.com',
        authorityHost: 'https://login.microsoftonline.com',
        maxRps: 20,
        credential: { kind: 'managedIdentity' },
      },
    });
  });

  it('LOG_LEVEL: info by default, any level in any case, and a clear problem for anything else', () => {
    expect(loadConfig({ AzureWebJobsStorage: storage }).logLevel).toBe('info');
    expect(loadConfig({ AzureWebJobsStorage: storage, LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(loadConfig({ AzureWebJobsStorage: storage, LOG_LEVEL: 'warning' }).logLevel).toBe('warn');
    expect(() => loadConfig({ AzureWebJobsStorage: storage, LOG_LEVEL: 'verbose' })).toThrow(
      expect.objectContaining({
        problems: [{ setting: 'LOG_LEVEL', message: 'LOG_LEVEL must be one of debug, info, warn, error' }],
      }),
    );
  });

  it('chooses the credential from what is set', () => {
    const ids = {
      GRAPH_TENANT_ID: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
      GRAPH_CLIENT_ID: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d',
    };
    expect(loadConfig({ AzureWebJobsStorage: storage, ...ids, GRAPH_CLIENT_SECRET: 's' }).graph.credential.kind).toBe(
      'clientSecret',
    );
    expect(
      loadConfig({ AzureWebJobsStorage: storage, ...ids, GRAPH_CLIENT_CERTIFICATE_PATH: '/x.pem' }).graph.credential
        .kind,
    ).toBe('clientCertificate');
    expect(loadConfig({ AzureWebJobsStorage: storage, ...ids }).graph.credential).toEqual({
      kind: 'managedIdentity',
      ...{ tenantId: ids.GRAPH_TENANT_ID, clientId: ids.GRAPH_CLIENT_ID },
    });
  });

  it("checks operations Microsoft's 30 s apart by default; OPERATION_CHECK_MIN_SECONDS changes it, validated", () => {
    expect(loadConfig({ AzureWebJobsStorage: storage }).operationCheckMinSeconds).toBe(30);
    expect(
      loadConfig({ AzureWebJobsStorage: storage, OPERATION_CHECK_MIN_SECONDS: '0.5' }).operationCheckMinSeconds,
    ).toBe(0.5);
    for (const bad of ['0', '-1', 'soon', '3601']) {
      expect(() => loadConfig({ AzureWebJobsStorage: storage, OPERATION_CHECK_MIN_SECONDS: bad })).toThrow(
        /OPERATION_CHECK_MIN_SECONDS: OPERATION_CHECK_MIN_SECONDS must be a number greater than 0 and at most 3600/,
      );
    }
  });

  it('names every problem at once and never echoes a secret', () => {
    let error: unknown;
    try {
      loadConfig({
        GRAPH_TENANT_ID: 'not-a-guid',
        GRAPH_CLIENT_SECRET: 'super-secret-value',
        GRAPH_BASE_URL: 'http://graph.example.com',
        GRAPH_MAX_RPS: 'fast',
        CHAT_REQUESTS_QUEUE: 'Bad_Queue',
        POLL_SCHEDULE: '* * *',
        WEBHOOK_SIGNING_SECRET: 'plain-secret',
        CALLBACK_ALLOWED_HOSTS: 'ok.example.com, bad host/x',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const settings = (error as ConfigError).problems.map((p) => p.setting);
    expect(settings).toEqual(
      expect.arrayContaining([
        'GRAPH_TENANT_ID',
        'GRAPH_BASE_URL',
        'GRAPH_MAX_RPS',
        'CHAT_REQUESTS_QUEUE',
        'POLL_SCHEDULE',
        'WEBHOOK_SIGNING_SECRET',
      ]),
    );
    expect((error as Error).message).not.toContain('super-secret-value');
    expect((error as Error).message).not.toContain('plain-secret');
  });

  it('reports missing storage and a secret without ids', () => {
    expect(() => loadConfig({ GRAPH_CLIENT_SECRET: 'x' })).toThrow(
      /AzureWebJobsStorage[\s\S]*GRAPH_TENANT_ID[\s\S]*GRAPH_CLIENT_ID|GRAPH_TENANT_ID[\s\S]*AzureWebJobsStorage/,
    );
  });

  it('takes a table name of up to 59 characters, since the work table adds "Work"', () => {
    const storage = { AzureWebJobsStorage__accountName: 'acct' };
    expect(loadConfig({ ...storage, CHAT_REQUESTS_TABLE: `T${'a'.repeat(58)}` }).tableName).toHaveLength(59);
    expect(() => loadConfig({ ...storage, CHAT_REQUESTS_TABLE: `T${'a'.repeat(59)}` })).toThrow(
      /CHAT_REQUESTS_TABLE must be a table name of 3-59 letters and digits/,
    );
    expect(() => loadConfig({ ...storage, CHAT_REQUESTS_TABLE: 'Chat_Requests' })).toThrow(/CHAT_REQUESTS_TABLE/);
  });

  it('takes NEW_USER_GRACE_MINUTES=0 as "no grace", and still refuses negatives and words', () => {
    const storage = { AzureWebJobsStorage__accountName: 'acct' };
    expect(loadConfig({ ...storage, NEW_USER_GRACE_MINUTES: '0' }).newUserGraceMinutes).toBe(0);
    expect(loadConfig({ ...storage, NEW_USER_GRACE_MINUTES: '7.5' }).newUserGraceMinutes).toBe(7.5);
    for (const bad of ['-1', 'none', '10081']) {
      expect(() => loadConfig({ ...storage, NEW_USER_GRACE_MINUTES: bad })).toThrow(
        /NEW_USER_GRACE_MINUTES must be a number from 0 to 10080/,
      );
    }
  });

  it('accepts identity-based storage settings', () => {
    const config = loadConfig({ AzureWebJobsStorage__accountName: 'acct', AzureWebJobsStorage__clientId: 'c' });
    expect(config.storage).toEqual({
      kind: 'identity',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      tableServiceUri: 'https://acct.table.core.windows.net',
      clientId: 'c',
    });
  });

  it('registration helpers fall back to defaults on bad values', () => {
    expect(queueNames({ CHAT_REQUESTS_QUEUE: 'jobs' })).toEqual({ queue: 'jobs', poison: 'jobs-poison' });
    expect(queueNames({ CHAT_REQUESTS_QUEUE: 'BAD' }).queue).toBe('chat-requests');
    expect(pollSchedule({ POLL_SCHEDULE: '0 */1 * * * *' })).toBe('0 */1 * * * *');
    expect(pollSchedule({})).toBe(DEFAULTS.POLL_SCHEDULE);
  });
});
