import type { App } from '../app.js';
import { signToken, verifyToken } from '../core/tokens.js';
import { rewriteLinks } from '../send/links.js';

type Keys = Pick<App, 'config' | 'secret'>;

/**
 * The link index travels in one byte; an SMS of at most MAX_SMS_SEGMENTS segments cannot hold
 * more distinct links than that, and any beyond are left as they are.
 */
const MAX_SMS_LINKS = 256;

/**
 * The short click URL of link `index` of an SMS: `<public url>/s/<token>`. Unlike an email click
 * token, the target URL is not inside: an SMS has 160 characters, so the token signs only the
 * message id and the link's index (16 + 1 bytes + the 80-bit tag of src/core/tokens.ts = 36
 * base64url characters) and the redirect reads the target from the message's stored content.
 */
export function smsLinkUrl(app: Keys, messageId: string, index: number): string {
  return `${app.config.MAILTRAIL_PUBLIC_URL}/s/${signToken(app.secret, 'sms-link', messageId, Buffer.from([index]))}`;
}

/** The message id and link index of a genuine `/s/` token, or null (forged, altered, truncated). */
export function verifySmsLink(secret: string, token: string): { messageId: string; index: number } | null {
  const t = verifyToken(secret, 'sms-link', token);
  return t && t.extra.length === 1 ? { messageId: t.messageId, index: t.extra[0] } : null;
}

export interface RewrittenSms {
  text: string;
  /** The distinct original URLs, by link index: what `/s/` redirects to. */
  urls: string[];
}

/**
 * Replaces every http(s) URL of an SMS text with its short click URL, with the same URL finder as
 * email text parts (trailing punctuation stays outside, malformed or overlong URLs stay as they
 * are). One index per distinct URL, so a link repeated in the text is one link.
 */
export function rewriteSmsLinks(app: Keys, messageId: string, text: string): RewrittenSms {
  const urls: string[] = [];
  const index = new Map<string, number>();
  const out = rewriteLinks(null, text, (url) => {
    let i = index.get(url);
    if (i === undefined) {
      if (urls.length >= MAX_SMS_LINKS) return url;
      i = urls.push(url) - 1;
      index.set(url, i);
    }
    return smsLinkUrl(app, messageId, i);
  });
  return { text: out.text ?? text, urls };
}
