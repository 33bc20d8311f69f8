import { emptyReport, type Report, type ReportRecipient } from '../../src/parsers/report.js';
import type { Parser } from '../../src/ingest/types.js';

/**
 * Ingest tests pin the parser's output: each fixture message carries the Report it stands for as
 * its body, so these tests check correlation and effects independently of the parser's rules.
 */
export const fixtureParser = {
  version: 'fixture-1',
  parse(raw: Buffer): Report {
    const text = raw.toString('utf8');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    if (body.startsWith('THROW')) throw new Error('parser bug');
    return JSON.parse(body) as Report;
  },
} satisfies Parser;

export function recipient(over: Partial<ReportRecipient> = {}): ReportRecipient {
  return {
    recipient: 'someone@example.com',
    action: 'failed',
    status: '5.1.1',
    replycode: '550',
    diagnostic: '550 5.1.1 <someone@example.com>: Recipient address rejected: User unknown',
    remote_mta: 'mx.example.com',
    reason: 'userunknown',
    bounce_class: 'hard',
    feedback_type: '',
    evidence: [{ rule: 'status:userunknown', matched: '5.1.1' }],
    ...over,
  };
}

export function report(over: Partial<Report> = {}, original: Partial<Report['original']> = {}): Report {
  const base = emptyReport('bounce', 'rfc3464');
  return {
    ...base,
    subject: 'Undelivered Mail Returned to Sender',
    from: 'MAILER-DAEMON@mx.example.com',
    message_id: `<${Math.random().toString(36).slice(2)}@mx.example.com>`,
    recipients: [recipient()],
    ...over,
    original: { ...base.original, ...original },
  };
}

/** The raw message standing for a report (CRLF, as on the wire). */
export function rawOf(r: Report | 'THROW'): Buffer {
  const body = r === 'THROW' ? 'THROW' : JSON.stringify(r);
  return Buffer.from(`From: MAILER-DAEMON@mx.example.com\r\nSubject: fixture\r\n\r\n${body}`);
}
