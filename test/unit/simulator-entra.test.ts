import { constants, createPrivateKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { EntraSimulator, RegisteredApp } from '../../dev/simulator/entra';
import { SeededRandom } from '../../dev/simulator/seeded-random';
import { createClientCredentialCertificate } from '../../dev/simulator/tls';

const TENANT = 'aaaaaaaa-1111-4222-8333-444444444444';
const ORIGIN = 'https://localhost:4443';
const TOKEN_URL = `${ORIGIN}/${TENANT}/oauth2/v2.0/token`;
const certificate = createClientCredentialCertificate('unit-test-client');
const certificateKey = createPrivateKey(certificate.pem);
const secretApp: RegisteredApp = {
  clientId: 'secret-app',
  displayName: 'secret app',
  servicePrincipalId: 'sp-1',
  credential: { kind: 'secret', secret: 's3cret' },
};
const certApp: RegisteredApp = {
  clientId: 'cert-app',
  displayName: 'cert app',
  servicePrincipalId: 'sp-2',
  credential: { kind: 'certificate', certificate },
};
const entra = new EntraSimulator(
  { tenantId: TENANT, domains: ['contoso.onmicrosoft.com'], apps: [secretApp, certApp] },
  new SeededRandom(1),
);
const NOW = Date.parse('2025-01-01T00:00:00Z');

function assertion(
  options: {
    alg?: 'RS256' | 'PS256';
    key?: KeyObject;
    payload?: Record<string, unknown>;
    header?: Record<string, unknown>;
  } = {},
) {
  const alg = options.alg ?? 'RS256';
  const header = {
    alg,
    typ: 'JWT',
    ...(alg === 'RS256'
      ? { x5t: Buffer.from(certificate.thumbprintSha1, 'hex').toString('base64url') }
      : { 'x5t#S256': Buffer.from(certificate.thumbprintSha256, 'hex').toString('base64url') }),
    ...options.header,
  };
  const seconds = NOW / 1000;
  const payload = {
    aud: TOKEN_URL,
    iss: 'cert-app',
    sub: 'cert-app',
    exp: seconds + 600,
    nbf: seconds,
    jti: 'j',
    ...options.payload,
  };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const key = options.key ?? certificateKey;
  const signature =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${signature.toString('base64url')}`;
}

function tokenCall(fields: Record<string, string>, tenantSegment = TENANT) {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    scope: 'https://graph.microsoft.com/.default',
    ...fields,
  });
  return entra.token({
    tenantSegment,
    form,
    authorization: undefined,
    clientRequestId: 'corr-1',
    origin: ORIGIN,
    now: NOW,
  });
}

const withAssertion = (jwt: string) =>
  tokenCall({
    client_id: 'cert-app',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: jwt,
  });

function errorCode(answer: { status: number; body?: unknown }): [number, number | undefined] {
  return [answer.status, (answer.body as { error_codes?: number[] }).error_codes?.[0]];
}

describe('EntraSimulator client credentials', () => {
  it('issues a Graph token for the right secret, and the token passes Graph validation', () => {
    const answer = tokenCall({ client_id: 'secret-app', client_secret: 's3cret' });
    expect(answer.status).toBe(200);
    const body = answer.body as { token_type: string; expires_in: number; access_token: string };
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(3599);
    expect(entra.verifyAccessToken(body.access_token, NOW)).toEqual({
      ok: true,
      claims: {
        tid: TENANT,
        appid: 'secret-app',
        roles: ['Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All'],
        exp: NOW / 1000 + 3599,
      },
    });
    expect(entra.verifyAccessToken(body.access_token, NOW + 3600_000).ok).toBe(false);
    const [h, p] = body.access_token.split('.');
    expect(entra.verifyAccessToken(`${h}.${p}.AAAA`, NOW).ok).toBe(false);
  });

  it('answers a wrong secret with 401 invalid_client AADSTS7000215 in Entra shape', () => {
    const answer = tokenCall({ client_id: 'secret-app', client_secret: 'nope' });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(
        /^AADSTS7000215: Invalid client secret provided\..*\r\nTrace ID: .+\r\nCorrelation ID: corr-1\r\nTimestamp: 2025-01-01 00:00:00Z$/s,
      ),
      error_codes: [7000215],
      timestamp: '2025-01-01 00:00:00Z',
      trace_id: expect.any(String),
      correlation_id: 'corr-1',
      error_uri: 'https://login.microsoftonline.com/error?code=7000215',
    });
  });

  it.each([
    [
      'unknown tenant',
      () => tokenCall({ client_id: 'secret-app', client_secret: 's3cret' }, 'fabrikam.com'),
      [400, 90002],
    ],
    ['unknown client', () => tokenCall({ client_id: 'other', client_secret: 's3cret' }), [401, 700016]],
    [
      'scope without /.default',
      () => tokenCall({ client_id: 'secret-app', client_secret: 's3cret', scope: 'Chat.Create' }),
      [400, 1002012],
    ],
    [
      'another resource',
      () => tokenCall({ client_id: 'secret-app', client_secret: 's3cret', scope: 'https://vault.azure.net/.default' }),
      [400, 500011],
    ],
    ['no credential', () => tokenCall({ client_id: 'secret-app' }), [401, 7000218]],
    [
      'authorization_code grant',
      () => tokenCall({ client_id: 'secret-app', client_secret: 's3cret', grant_type: 'authorization_code' }),
      [400, 70003],
    ],
  ])('refuses %s', (_name, run, expected) => {
    expect(errorCode(run())).toEqual(expected);
  });

  it('accepts the tenant by domain name too', () => {
    expect(tokenCall({ client_id: 'secret-app', client_secret: 's3cret' }, 'contoso.onmicrosoft.com').status).toBe(200);
  });

  it('accepts client assertions signed by the registered certificate, RS256+x5t and PS256+x5t#S256', () => {
    expect(withAssertion(assertion({ alg: 'RS256' })).status).toBe(200);
    expect(withAssertion(assertion({ alg: 'PS256' })).status).toBe(200);
  });

  it('refuses assertions that are forged, expired, aimed elsewhere or issued by another client', () => {
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(errorCode(withAssertion(assertion({ key: otherKey })))).toEqual([401, 700027]);
    expect(errorCode(withAssertion(assertion({ header: { x5t: 'AAAA' } })))).toEqual([401, 700027]);
    expect(errorCode(withAssertion(assertion({ payload: { exp: NOW / 1000 - 3600 } })))).toEqual([401, 700024]);
    expect(
      errorCode(
        withAssertion(assertion({ payload: { aud: 'https://login.microsoftonline.com/x/oauth2/v2.0/token' } })),
      ),
    ).toEqual([401, 50013]);
    expect(errorCode(withAssertion(assertion({ payload: { iss: 'secret-app' } })))).toEqual([401, 700021]);
    expect(errorCode(withAssertion('not-a-jwt'))).toEqual([401, 50027]);
  });

  it('refuses a secret for the certificate app', () => {
    expect(errorCode(tokenCall({ client_id: 'cert-app', client_secret: 's3cret' }))).toEqual([401, 7000215]);
  });

  it('serves an OpenID configuration MSAL accepts: issuer on the authority origin', () => {
    const body = entra.openIdConfiguration(TENANT, ORIGIN, NOW).body as Record<string, string>;
    expect(body.token_endpoint).toBe(TOKEN_URL);
    expect(body.issuer).toBe(`${ORIGIN}/${TENANT}/v2.0`);
    for (const key of ['authorization_endpoint', 'jwks_uri', 'end_session_endpoint'])
      expect(body[key]?.startsWith(`${ORIGIN}/${TENANT}/`)).toBe(true);
  });
});
