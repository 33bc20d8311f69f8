import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `<webhook-id>.<webhook-timestamp>.<body>`, the key is the base64 part of a `whsec_` secret, and
 * the `webhook-signature` header lists `v1,<base64 HMAC-SHA256>` entries separated by spaces (one
 * per valid secret, so receivers keep verifying during a secret rotation).
 */
const PREFIX = 'whsec_';

/** A new secret: `whsec_` + base64 of 24 random bytes. */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

function signatureBytes(secret: string, id: string, timestamp: number, body: string): Buffer {
  return createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest();
}

/** The `webhook-signature` header value for the given secrets, e.g. `v1,K5oZfz... v1,Xy1...`. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets.map((s) => `v1,${signatureBytes(s, id, timestamp, body).toString('base64')}`).join(' ');
}

export interface WebhookHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

/**
 * The verification recipe for receivers (also in the README): recompute the HMAC over the raw
 * body, compare in constant time with each `v1,` entry, and refuse timestamps more than
 * `toleranceSec` away from now (replay protection). Never throws.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string,
  nowSec: number = Math.floor(Date.now() / 1000),
  toleranceSec = 300,
): boolean {
  const id = headers['webhook-id'];
  const ts = Number(headers['webhook-timestamp']);
  const sigs = headers['webhook-signature'];
  if (!id || !Number.isInteger(ts) || !sigs || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = signatureBytes(secret, id, ts, body);
  return sigs.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
