import type { App } from '../app.js';
import { signToken } from '../core/tokens.js';

type Keys = Pick<App, 'config' | 'secret'>;

/** The pixel URL of a message: `GET /o/<token>`. */
export function openUrl(app: Keys, messageId: string): string {
  return `${app.config.MAILTRAIL_PUBLIC_URL}/o/${signToken(app.secret, 'open', messageId)}`;
}

/** The click URL of one link: the target is inside the signed token, never a parameter. */
export function clickUrl(app: Keys, messageId: string, target: string): string {
  return `${app.config.MAILTRAIL_PUBLIC_URL}/c/${signToken(app.secret, 'click', messageId, Buffer.from(target, 'utf8'))}`;
}

/** The unsubscribe page and RFC 8058 one-click POST target. */
export function unsubscribeUrl(app: Keys, messageId: string): string {
  return `${app.config.MAILTRAIL_PUBLIC_URL}/u/${signToken(app.secret, 'unsubscribe', messageId)}`;
}
