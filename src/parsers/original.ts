import { firstAddress } from './address.js';
import type { MessageView } from './message-view.js';
import { headerText } from './mime.js';
import { MAILTRAIL_ID_HEADER } from './report.js';
import type { OriginalMessage } from './report.js';

const MAILTRAIL_ID = MAILTRAIL_ID_HEADER.toLowerCase();

/** Correlation data from the returned original message (or its headers) and the report's own fields. */
export function extractOriginal(view: MessageView, dsnFields: { originalEnvelopeId: string; envelopeFrom: string }): OriginalMessage {
  const h = view.original;
  const get = (name: string): string => (h ? headerText(h, name) : '');
  const messageId = (get('message-id') || get('message-id'.toUpperCase())).replace(/^\s*<|>\s*$/g, '').trim();
  let mailtrailId = get(MAILTRAIL_ID);
  if (!mailtrailId) {
    // Some bounces return only a text excerpt of the original: look for our header there.
    const m = /^X-Mailtrail-Id:[ \t]*(\S{1,200})/im.exec(view.originalBlock || view.text.slice(0, 200000));
    if (m) mailtrailId = m[1];
  }
  return {
    message_id: messageId,
    mailtrail_id: mailtrailId.trim(),
    envelope_from: dsnFields.envelopeFrom || firstAddress(get('return-path')) || '',
    original_envelope_id: dsnFields.originalEnvelopeId,
    from: get('from'),
    to: get('to'),
    subject: get('subject'),
    date: get('date'),
  };
}
