import type { SendMailOptions } from 'nodemailer';
import type { App } from '../app.js';
import { taggedId, unsubscribeMailto } from '../core/tokens.js';
import type { Message } from '../db/types.js';
import { MAILTRAIL_ID_HEADER } from '../parsers/report.js';
import { clickUrl, openUrl, unsubscribeUrl } from '../tracking/urls.js';
import { appendPixel, rewriteLinks } from './links.js';
import type { MessageContent } from './submit.js';

/**
 * The outbound message: VERP envelope sender, our Message-ID and X-Mailtrail-Id (both carry the
 * HMAC-tagged id), links rewritten to signed click URLs, the open pixel, RFC 8058
 * List-Unsubscribe (https one-click + mailto), and DSN NOTIFY=SUCCESS,FAILURE,DELAY with the
 * tagged id as ENVID (used only if the relay offers DSN). DELAY matters: a relay told NOTIFY
 * without it stays silent while the message sits in its queue, and the no-bounce window then
 * calls a stuck message delivered.
 */
export function composeMessage(app: Pick<App, 'config' | 'secret'>, msg: Message): SendMailOptions {
  const content = msg.content as unknown as MessageContent;
  let { html, text } = content;
  if (content.tracking.click) ({ html, text } = rewriteLinks(html, text, (url) => clickUrl(app, msg.id, url)));
  if (content.tracking.open && html !== null) html = appendPixel(html, openUrl(app, msg.id));
  const mailto = unsubscribeMailto(app.secret, msg.id, app.config.MAILTRAIL_BOUNCE_DOMAIN[0]);
  const tagged = taggedId(app.secret, msg.id);
  return {
    from: { name: content.from_name, address: msg.from_address ?? '' },
    to: msg.recipient,
    subject: msg.subject ?? '',
    ...(html !== null ? { html } : {}),
    ...(text !== null ? { text } : {}),
    messageId: msg.message_id_header ?? undefined,
    envelope: { from: msg.envelope_from ?? '', to: [msg.recipient] },
    headers: {
      [MAILTRAIL_ID_HEADER]: tagged,
      'List-Unsubscribe': `<${unsubscribeUrl(app, msg.id)}>, <mailto:${mailto}?subject=unsubscribe>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    dsn: { id: tagged, return: 'headers', notify: ['success', 'failure', 'delay'], recipient: msg.recipient },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
