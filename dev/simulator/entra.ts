import { generateKeyPairSync, KeyObject, timingSafeEqual } from 'node:crypto';
import { json, SimAnswer } from './answer';
import { decodeJwt, signJwt, verifyJwtSignature } from './jwt';
import { SeededRandom } from './seeded-random';
import { ClientCredentialCertificate } from './tls';

/** The Entra ID v2.0 token endpoint for client credentials, shaped like the real one down to its error bodies. */

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
const GRAPH_RESOURCE_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_APP_ROLES = ['Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All'] as const;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export type RegisteredApp =
  | {
      clientId: string;
      displayName: string;
      servicePrincipalId: string;
      credential: { kind: 'secret'; secret: string };
    }
  | {
      clientId: string;
      displayName: string;
      servicePrincipalId: string;
      credential: { kind: 'certificate'; certificate: ClientCredentialCertificate };
    };

export interface EntraTenant {
  tenantId: string;
  /** Domain names the tenant answers to besides its id (e.g. contoso.onmicrosoft.com). */
  domains: string[];
  apps: RegisteredApp[];
}

/** Error kinds a fault script can force on the token endpoint. */
export const TOKEN_ERROR_KINDS = [
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_request',
  'unsupported_grant_type',
  'invalid_grant',
  'temporarily_unavailable',
  'server_error',
] as const;
export type TokenErrorKind = (typeof TOKEN_ERROR_KINDS)[number];

export interface AccessTokenClaims {
  tid: string;
  appid: string;
  roles: string[];
  exp: number;
}

export type AccessTokenCheck = { ok: true; claims: AccessTokenClaims } | { ok: false; message: string };

export interface TokenCall {
  tenantSegment: string;
  form: URLSearchParams;
  authorization: string | undefined;
  clientRequestId: string | undefined;
  /** https://host:port the caller used; issuers and audiences are built from it, as MSAL compares hosts. */
  origin: string;
  now: number;
}

/** Entra's timestamp format in error bodies: `2016-01-09 02:02:12Z`. */
function entraTimestamp(now: number): string {
  return new Date(now)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

interface EntraErrorInput {
  status: number;
  error: string;
  code: number;
  message: string;
}

export class EntraSimulator {
  private readonly signingKey: KeyObject;
  private readonly verifyKey: KeyObject;
  private readonly keyId: string;
  tokenLifetimeSeconds = 3599;
  /** Application roles (admin-consented permissions) put in new tokens; trim them to test a missing consent. */
  grantedRoles: string[] = [...GRAPH_APP_ROLES];
  tokensIssued = 0;
  /** Token ids (`uti` claims) issued, newest last, bounded: tests check that Graph calls carry one of ours. */
  readonly issuedTokenIds: string[] = [];

  constructor(
    readonly tenant: EntraTenant,
    private readonly random: SeededRandom,
  ) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = pair.privateKey;
    this.verifyKey = pair.publicKey;
    this.keyId = random.text(27);
  }

  /** The tenant id for a path segment (id or domain), or undefined when Entra would say AADSTS90002. */
  tenantIdFor(segment: string): string | undefined {
    const s = segment.toLowerCase();
    if (s === this.tenant.tenantId.toLowerCase() || this.tenant.domains.some((d) => d.toLowerCase() === s)) {
      return this.tenant.tenantId;
    }
    return undefined;
  }

  openIdConfiguration(tenantSegment: string, origin: string, now: number, clientRequestId?: string): SimAnswer {
    const tid = this.tenantIdFor(tenantSegment);
    if (!tid) return this.unknownTenant(tenantSegment, now, clientRequestId);
    const base = `${origin}/${tid}`;
    return json(200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${origin}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    });
  }

  keys(tenantSegment: string, now: number): SimAnswer {
    if (!this.tenantIdFor(tenantSegment)) return this.unknownTenant(tenantSegment, now, undefined);
    const jwk = this.verifyKey.export({ format: 'jwk' });
    return json(200, { keys: [{ kty: 'RSA', use: 'sig', kid: this.keyId, n: jwk.n, e: jwk.e }] });
  }

  token(call: TokenCall): SimAnswer {
    const { form, now } = call;
    const fail = (input: EntraErrorInput) => this.errorAnswer(input, now, call.clientRequestId);
    const tid = this.tenantIdFor(call.tenantSegment);
    if (!tid) return this.unknownTenant(call.tenantSegment, now, call.clientRequestId);

    const grantType = form.get('grant_type');
    if (!grantType) return fail(missingParameter('grant_type'));
    if (grantType !== 'client_credentials') {
      return fail({
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        message: `The app requested an unsupported grant type '${grantType}'.`,
      });
    }

    const basic = parseBasicAuthorization(call.authorization);
    const clientId = form.get('client_id') ?? basic?.clientId;
    if (!clientId) return fail(missingParameter('client_id'));
    const app = this.tenant.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
    if (!app) {
      return fail({
        status: 401,
        error: 'invalid_client',
        code: 700016,
        message:
          `Application with identifier '${clientId}' was not found in the directory '${tid}'. This can happen if the ` +
          'application has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
          'You may have sent your authentication request to the wrong tenant.',
      });
    }

    const scope = form.get('scope');
    if (!scope) return fail(missingParameter('scope'));
    const scopes = scope.split(' ').filter((s) => s.length > 0);
    const resourceScope = scopes.find((s) => s.endsWith('/.default'));
    if (scopes.length !== 1 || !resourceScope) {
      return fail({
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        message:
          `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with ` +
          '/.default suffixed to the resource identifier (application ID URI).',
      });
    }
    const resource = resourceScope.slice(0, -'/.default'.length).replace(/\/$/, '');
    if (resource !== GRAPH_RESOURCE && resource !== GRAPH_RESOURCE_APP_ID) {
      return fail({
        status: 400,
        error: 'invalid_resource',
        code: 500011,
        message: `The resource principal named ${resource} was not found in the tenant named ${tid}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      });
    }

    const credentialProblem = this.checkCredential(app, form, basic?.secret, call.origin, tid, now);
    if (credentialProblem) return fail(credentialProblem);

    return this.issue(app, tid, now, call.clientRequestId);
  }

  /** A forced token error, as a fault script asks for. */
  scriptedError(
    kind: TokenErrorKind,
    tenantSegment: string,
    clientId: string | undefined,
    now: number,
    clientRequestId?: string,
  ): SimAnswer {
    const app = clientId ?? '00000000-0000-0000-0000-000000000000';
    const byKind: Record<TokenErrorKind, EntraErrorInput> = {
      invalid_client: { status: 401, error: 'invalid_client', code: 7000215, message: invalidSecretMessage(app) },
      unauthorized_client: {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        message: `Application with identifier '${app}' was not found in the directory '${tenantSegment}'.`,
      },
      invalid_scope: {
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        message:
          'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
      },
      invalid_request: missingParameter('scope'),
      unsupported_grant_type: {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        message: "The app requested an unsupported grant type ''.",
      },
      invalid_grant: {
        status: 400,
        error: 'invalid_grant',
        code: 7000222,
        message: `The provided client secret keys for app '${app}' are expired.`,
      },
      temporarily_unavailable: {
        status: 503,
        error: 'temporarily_unavailable',
        code: 90033,
        message: 'A transient error has occurred. Please try again.',
      },
      server_error: {
        status: 500,
        error: 'server_error',
        code: 90033,
        message: 'A transient error has occurred. Please try again.',
      },
    };
    return this.errorAnswer(byKind[kind], now, clientRequestId);
  }

  /** An Entra-shaped answer for an injected HTTP status on the token path. */
  statusError(status: number, now: number, clientRequestId?: string): SimAnswer {
    const error = status === 429 || status === 503 ? 'temporarily_unavailable' : 'server_error';
    return this.errorAnswer(
      { status, error, code: 90033, message: 'A transient error has occurred. Please try again.' },
      now,
      clientRequestId,
    );
  }

  /** The token endpoint refuses other methods, as Entra does. */
  onlyPost(method: string, now: number, clientRequestId?: string): SimAnswer {
    return this.errorAnswer(
      {
        status: 400,
        error: 'invalid_request',
        code: 900561,
        message: `The endpoint only accepts POST requests. Received a ${method} request.`,
      },
      now,
      clientRequestId,
    );
  }

  verifyAccessToken(token: string, now: number): AccessTokenCheck {
    const jwt = decodeJwt(token);
    if (!jwt) return { ok: false, message: 'IDX14100: JWT is not well formed, there are no dots (.).' };
    if (jwt.header.kid !== this.keyId || !verifyJwtSignature(jwt, this.verifyKey)) {
      return { ok: false, message: 'Access token validation failure. Invalid signature.' };
    }
    const { aud, tid, appid, roles, exp, nbf } = jwt.payload;
    if (aud !== GRAPH_RESOURCE && aud !== `${GRAPH_RESOURCE}/` && aud !== GRAPH_RESOURCE_APP_ID) {
      return { ok: false, message: 'Access token validation failure. Invalid audience.' };
    }
    const seconds = now / 1000;
    if (typeof exp !== 'number' || exp <= seconds || (typeof nbf === 'number' && nbf > seconds + 300)) {
      return { ok: false, message: 'Lifetime validation failed, the token is expired.' };
    }
    if (typeof tid !== 'string' || typeof appid !== 'string' || tid !== this.tenant.tenantId) {
      return { ok: false, message: 'Access token validation failure. Invalid issuer or tenant.' };
    }
    return {
      ok: true,
      claims: {
        tid,
        appid,
        exp,
        roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
      },
    };
  }

  private issue(app: RegisteredApp, tid: string, now: number, clientRequestId: string | undefined): SimAnswer {
    const iat = Math.floor(now / 1000);
    const lifetime = this.tokenLifetimeSeconds;
    let uti = '';
    const accessToken = signJwt(
      { kid: this.keyId, x5t: this.keyId },
      {
        aud: GRAPH_RESOURCE,
        iss: `https://sts.windows.net/${tid}/`,
        iat,
        nbf: iat - 300,
        exp: iat + lifetime,
        app_displayname: app.displayName,
        appid: app.clientId,
        appidacr: app.credential.kind === 'secret' ? '1' : '2',
        idp: `https://sts.windows.net/${tid}/`,
        idtyp: 'app',
        oid: app.servicePrincipalId,
        roles: [...this.grantedRoles],
        sub: app.servicePrincipalId,
        tid,
        uti: (uti = this.random.text(22)),
        ver: '1.0',
      },
      this.signingKey,
    );
    this.tokensIssued += 1;
    this.issuedTokenIds.push(uti);
    if (this.issuedTokenIds.length > 10_000) this.issuedTokenIds.shift();
    return json(
      200,
      { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
      {
        'cache-control': 'no-store, no-cache',
        pragma: 'no-cache',
        'x-ms-request-id': this.random.guid(),
        ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
      },
    );
  }

  private checkCredential(
    app: RegisteredApp,
    form: URLSearchParams,
    basicSecret: string | undefined,
    origin: string,
    tid: string,
    now: number,
  ): EntraErrorInput | undefined {
    const secret = form.get('client_secret') ?? basicSecret;
    const assertion = form.get('client_assertion');
    if (secret !== undefined && secret !== null) {
      if (app.credential.kind === 'secret' && sameText(secret, app.credential.secret)) return undefined;
      return { status: 401, error: 'invalid_client', code: 7000215, message: invalidSecretMessage(app.clientId) };
    }
    if (assertion === null) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000218,
        message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      };
    }
    const assertionType = form.get('client_assertion_type');
    if (assertionType !== JWT_BEARER) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 70002,
        message: `The client_assertion_type '${assertionType ?? ''}' is not supported; expected '${JWT_BEARER}'.`,
      };
    }
    return checkClientAssertion(app, assertion, origin, tid, now);
  }

  private unknownTenant(segment: string, now: number, clientRequestId: string | undefined): SimAnswer {
    return this.errorAnswer(
      {
        status: 400,
        error: 'invalid_request',
        code: 90002,
        message: `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      },
      now,
      clientRequestId,
    );
  }

  private errorAnswer(input: EntraErrorInput, now: number, clientRequestId: string | undefined): SimAnswer {
    const traceId = this.random.guid();
    const correlationId = clientRequestId ?? this.random.guid();
    const timestamp = entraTimestamp(now);
    return json(
      input.status,
      {
        error: input.error,
        error_description: `AADSTS${input.code}: ${input.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: [input.code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `https://login.microsoftonline.com/error?code=${input.code}`,
      },
      { 'x-ms-request-id': traceId, ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}) },
    );
  }
}

function missingParameter(name: string): EntraErrorInput {
  return {
    status: 400,
    error: 'invalid_request',
    code: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  };
}

function invalidSecretMessage(clientId: string): string {
  return `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function parseBasicAuthorization(header: string | undefined): { clientId: string; secret: string } | undefined {
  const match = header ? /^Basic\s+(.+)$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/** RFC 7523 client assertion checks, in the order Entra reports them. */
function checkClientAssertion(
  app: RegisteredApp,
  assertion: string,
  origin: string,
  tid: string,
  now: number,
): EntraErrorInput | undefined {
  const invalid = (code: number, message: string): EntraErrorInput => ({
    status: 401,
    error: 'invalid_client',
    code,
    message,
  });
  const jwt = decodeJwt(assertion);
  if (!jwt) return invalid(50027, 'JWT token is invalid or malformed.');
  const { iss, sub, aud, exp, nbf } = jwt.payload;
  if (iss !== app.clientId || sub !== app.clientId) {
    return invalid(
      700021,
      "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    );
  }
  const audiences = new Set([`${origin}/${tid}/oauth2/v2.0/token`, `${origin}/${tid}/v2.0`, `${origin}/${tid}/`]);
  const audList = Array.isArray(aud) ? aud : [aud];
  if (!audList.some((a) => typeof a === 'string' && audiences.has(a))) {
    return invalid(
      50013,
      `Assertion failed audience validation. The audience '${String(aud)}' is not the token endpoint '${origin}/${tid}/oauth2/v2.0/token'.`,
    );
  }
  const seconds = now / 1000;
  if (typeof exp !== 'number' || exp < seconds - 300 || (typeof nbf === 'number' && nbf > seconds + 300)) {
    return invalid(
      700024,
      `Client assertion is not within its valid time range. Current time: ${new Date(now).toISOString()}, expiry time of assertion ${typeof exp === 'number' ? new Date(exp * 1000).toISOString() : 'missing'}.`,
    );
  }
  const x5t = typeof jwt.header.x5t === 'string' ? Buffer.from(jwt.header.x5t, 'base64url').toString('hex') : undefined;
  const x5tS256 =
    typeof jwt.header['x5t#S256'] === 'string'
      ? Buffer.from(jwt.header['x5t#S256'], 'base64url').toString('hex')
      : undefined;
  const certificate = app.credential.kind === 'certificate' ? app.credential.certificate : undefined;
  const keyMatches =
    certificate !== undefined &&
    (x5t === certificate.thumbprintSha1 || x5tS256 === certificate.thumbprintSha256) &&
    (x5t === undefined || x5t === certificate.thumbprintSha1) &&
    (x5tS256 === undefined || x5tS256 === certificate.thumbprintSha256);
  if (!certificate || !keyMatches) {
    return invalid(
      700027,
      `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${(x5t ?? x5tS256 ?? '').toUpperCase()}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]`,
    );
  }
  if (!verifyJwtSignature(jwt, certificate.publicKey)) {
    return invalid(
      700027,
      'Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]',
    );
  }
  return undefined;
}
