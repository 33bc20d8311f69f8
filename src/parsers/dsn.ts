import { firstAddress } from './address.js';
import type { Finding } from './classify.js';
import { parseHeaders } from './mime.js';

/** Per-message fields of a delivery-status report that matter for correlation. */
export interface DsnMessageFields {
  reportingMta: string;
  originalEnvelopeId: string;
  /** X-Postfix-Sender and similar: the original envelope sender. */
  envelopeFrom: string;
}

/** Parses an RFC 3464 delivery-status body into message fields and one finding per recipient. */
export function parseDeliveryStatus(body: string): { message: DsnMessageFields; findings: Finding[] } {
  const groups = body.replace(/\r/g, '').split(/\n[ \t]*\n/);
  const message: DsnMessageFields = { reportingMta: '', originalEnvelopeId: '', envelopeFrom: '' };
  const findings: Finding[] = [];
  for (const group of groups) {
    for (const fields of splitRecipients(parseHeaders(group.replace(/^\n+/, '')))) {
      const get = (n: string): string => fields.get(n)?.[0] ?? '';
      if (!message.reportingMta) message.reportingMta = afterType(get('reporting-mta'));
      if (!message.originalEnvelopeId) message.originalEnvelopeId = get('original-envelope-id');
      if (!message.envelopeFrom) message.envelopeFrom = firstAddress(get('x-postfix-sender') || get('x-original-sender') || get('x-sender'));
      const final = get('final-recipient') || get('original-recipient') || get('x-actual-recipient');
      if (!final) continue;
      const diagRaw = get('diagnostic-code');
      const semi = diagRaw.indexOf(';');
      const diagType = semi > 0 && semi < 20 ? diagRaw.slice(0, semi).trim().toLowerCase() : '';
      findings.push({
        recipient: firstAddress(final) || firstAddress(get('original-recipient')) || null,
        action: get('action').toLowerCase().split(/[\s(]/)[0],
        status: (/[245]\.\d{1,3}\.\d{1,3}/.exec(get('status')) ?? [''])[0],
        replycode: '',
        diagnostic: diagType ? diagRaw.slice(semi + 1).trim() : diagRaw,
        diagnosticType: diagType,
        remoteMta: afterType(get('remote-mta')),
        command: '',
        evidence: [{ rule: 'rfc3464:final-recipient', matched: final.slice(0, 200) }],
      });
    }
  }
  return { message, findings };
}

/** A group with two Final-Recipient fields is two recipients written without a blank line. */
function splitRecipients(fields: Map<string, string[]>): Array<Map<string, string[]>> {
  const count = Math.max(fields.get('final-recipient')?.length ?? 0, 1);
  if (count === 1) return [fields];
  const out: Array<Map<string, string[]>> = [];
  for (let i = 0; i < count; i++) {
    const m = new Map<string, string[]>();
    for (const [k, v] of fields) m.set(k, [v[Math.min(i, v.length - 1)]]);
    out.push(m);
  }
  return out;
}

function afterType(v: string): string {
  const i = v.indexOf(';');
  return (i === -1 ? v : v.slice(i + 1)).trim();
}

/** True when the names a text uses show it is a delivery-status body pasted inline. */
export function looksLikeDeliveryStatus(text: string): boolean {
  return /^(?:Final|Original)-Recipient:/im.test(text) && /^(?:Action|Status):/im.test(text);
}
