import { Webhook } from 'standardwebhooks';
import { signedHeaders } from '../../cli/api-client';

describe('CLI request signing', () => {
  it('produces Standard Webhooks headers the service verifies', () => {
    // Prepare
    const secret = `whsec_${Buffer.from('a-signing-secret-for-tests').toString('base64')}`;
    const body = JSON.stringify({ requests: [{ chatType: 'group' }] });
    // Act
    const headers = signedHeaders(secret, body, new Date());
    // Assess
    expect(headers['webhook-id']).toMatch(/^msg_/);
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});
