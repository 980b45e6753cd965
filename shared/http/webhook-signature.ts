import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
 * with the timestamp within ±5 minutes (the library's tolerance).
 */
export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function verifyWebhookSignature(
  secret: string,
  body: string,
  headers: { id: string | null; timestamp: string | null; signature: string | null },
): SignatureCheck {
  const missing = (['id', 'timestamp', 'signature'] as const).filter((name) => !headers[name]);
  if (missing.length > 0) {
    return { ok: false, reason: `Missing header(s): ${missing.map((m) => `webhook-${m}`).join(', ')}` };
  }
  try {
    // jsonParse off: the library would JSON.parse a correctly signed body and throw on bad JSON, which
    // must be a 400 naming the position (json-body.ts), not a 401.
    new Webhook(secret).verify(
      body,
      {
        'webhook-id': headers.id as string,
        'webhook-timestamp': headers.timestamp as string,
        'webhook-signature': headers.signature as string,
      },
      { jsonParse: false },
    );
    return { ok: true };
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { ok: false, reason: error.message };
    return { ok: false, reason: 'The signature could not be verified' };
  }
}

/** Signs an outgoing event (callbacks) the same way. */
export function signWebhook(secret: string, id: string, timestamp: Date, body: string): string {
  return new Webhook(secret).sign(id, timestamp, body);
}
