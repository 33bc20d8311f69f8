import type { SendMailOptions } from 'nodemailer';
import type { App } from '../app.js';
import { unsubscribeMailto } from '../core/tokens.js';
import type { Message } from '../db/types.js';
import { MAILTRAIL_ID_HEADER } from '../parsers/report.js';
import { clickUrl, openUrl, unsubscribeUrl } from '../tracking/urls.js';
import { appendPixel, rewriteLinks } from './links.js';
import type { MessageContent } from './submit.js';

/**
 * The outbound message: VERP envelope sender, our Message-ID and X-Mailtrail-Id, links rewritten
 * to signed click URLs, the open pixel, RFC 8058 List-Unsubscribe (https one-click + mailto), and
 * DSN NOTIFY=SUCCESS,FAILURE with the message id as ENVID (used only if the relay offers DSN).
 */
export function composeMessage(app: Pick<App, 'config' | 'secret'>, msg: Message): SendMailOptions {
  const content = msg.content as unknown as MessageContent;
  let { html, text } = content;
  if (content.tracking.click) ({ html, text } = rewriteLinks(html, text, (url) => clickUrl(app, msg.id, url)));
  if (content.tracking.open && html !== null) html = appendPixel(html, openUrl(app, msg.id));
  const mailto = unsubscribeMailto(app.secret, msg.id, app.config.MAILTRAIL_BOUNCE_DOMAIN[0]);
  return {
    from: { name: content.from_name, address: msg.from_address ?? '' },
    to: msg.recipient,
    subject: msg.subject ?? '',
    ...(html !== null ? { html } : {}),
    ...(text !== null ? { text } : {}),
    messageId: msg.message_id_header ?? undefined,
    envelope: { from: msg.envelope_from ?? '', to: [msg.recipient] },
    headers: {
      [MAILTRAIL_ID_HEADER]: msg.id,
      'List-Unsubscribe': `<${unsubscribeUrl(app, msg.id)}>, <mailto:${mailto}?subject=unsubscribe>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    dsn: { id: msg.id, return: 'headers', notify: ['success', 'failure'], recipient: msg.recipient },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
