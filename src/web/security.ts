import { createHmac, timingSafeEqual } from 'node:crypto';

/** The dashboard's cookie key, derived from the app secret so it never doubles as a token key. */
export function cookieKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('mailtrail/ui-cookie/v1').digest();
}

const mac = (key: Buffer, value: string) => createHmac('sha256', key).update(value).digest('base64url');

export function signCookie(key: Buffer, value: string): string {
  return `${value}.${mac(key, value)}`;
}

/** The value of a cookie made by signCookie, or null; the MAC is compared in constant time. */
export function unsignCookie(key: Buffer, signed: string | undefined): string | null {
  if (!signed || signed.length > 512) return null;
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const value = signed.slice(0, dot);
  return sameSecret(signed.slice(dot + 1), mac(key, value)) ? value : null;
}

/** Constant-time string comparison (CSRF tokens, MACs). */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Scripts only from our own origin: no inline script, no eval, so markup injected through a mail
 * value could not run even if it escaped the templates. htmx's indicator style is turned off in
 * the page (htmx.config.includeIndicatorStyles) so no inline style is needed either.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Failed logins per key (address+IP, and IP alone) in a sliding window. In memory: each HTTP node
 * limits on its own, which bounds a guesser to nodes × limit per window.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  blocked(key: string, now: number): boolean {
    return this.recent(key, now).length >= this.limit;
  }

  fail(key: string, now: number): void {
    const list = this.recent(key, now);
    list.push(now);
    if (!this.failures.has(key) && this.failures.size >= this.maxKeys) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(key, list);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
  }
}
