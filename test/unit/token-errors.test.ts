import { tokenAnswer } from '../../shared/graph/graph-client';

describe('token errors', () => {
  it('a wrong secret is permanent and says invalid_client', () => {
    const answer = tokenAnswer(
      Object.assign(
        new Error('ClientSecretCredential authentication failed: AADSTS7000215: Invalid client secret provided.'),
        {
          name: 'AuthenticationError',
          errorResponse: { error: 'invalid_client' },
        },
      ),
      'c',
    );
    expect(answer).toMatchObject({ kind: 'token', code: 'invalid_client', retryable: false });
  });

  it('an unreachable authority is transient, not a configuration error', () => {
    const error = Object.assign(new Error('endpoints_resolution_error: See https://aka.ms/msal.js.errors'), {
      name: 'CredentialUnavailableError',
    });
    expect(tokenAnswer(error, 'c')).toMatchObject({ kind: 'token', code: 'authority_unreachable', retryable: true });
  });

  it("Entra's transient answers (temporarily_unavailable, AADSTS90033) retry, though they carry an AADSTS code", () => {
    const error = Object.assign(
      new Error(
        'temporarily_unavailable: Error(s): 90033 - Description: AADSTS90033: A transient error has occurred. Please try again.',
      ),
      { name: 'AuthenticationRequiredError' },
    );
    expect(tokenAnswer(error, 'c')).toMatchObject({ code: 'temporarily_unavailable', retryable: true });
  });

  it('no managed identity is permanent', () => {
    const error = Object.assign(new Error('ManagedIdentityCredential: no managed identity endpoint'), {
      name: 'CredentialUnavailableError',
    });
    expect(tokenAnswer(error, 'c')).toMatchObject({ retryable: false });
  });
});
