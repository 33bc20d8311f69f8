import { describe, expect, it } from 'vitest';
import { parse } from '../../src/parsers/index.js';

/**
 * Failure class 7 of issue 15: bounces that did not look like bounces. An "auto-replied" message
 * whose text says its own address failed is a bounce; a one-line plain-text warning naming an
 * address and a failure is a bounce. Real auto-replies (vacation, out of office, "no longer
 * monitored") stay auto-replies: kind is scored. The messages are written here; addresses invented.
 */

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');

const autoReplied = (from: string, subject: string, body: string): string => `From: ${from}
To: b+0099@bounces.example.com
Subject: ${subject}
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

${body}
`;

describe('auto-replied messages that report a failed address', () => {
  it.each([
    ['a closed hosted mailbox', autoReplied('Kijitora <kijitora@example.net>', 'Automatic reply: Invoice 2026-11', 'The email address you sent this message to is no longer active.\nYour message has not been read and will be deleted.'), 'kijitora@example.net'],
    ['a responder naming the address', autoReplied('no-reply@example.org', 'Auto: your message', 'Your message could not be delivered to kuroneko@example.org: the mailbox is unavailable.'), 'kuroneko@example.org'],
    ['an account deactivated', autoReplied('Shiro <shiro@example.com>', 'Autoreply', 'This account has been deactivated. Mail sent to this address is not read.'), 'shiro@example.com'],
  ])('%s is a bounce', (_name, raw, recipient) => {
    for (const m of [raw, crlf(raw)]) {
      const r = parse(m);
      expect(r.kind).toBe('bounce');
      expect(r.recipients.map((x) => x.recipient)).toEqual([recipient]);
      expect(r.recipients[0].reason).not.toBe('vacation');
    }
  });

  it.each([
    ['out of office', autoReplied('Kijitora <kijitora@example.net>', 'Out of office', 'I am out of the office until Monday 7 December with limited access to e-mail.\nFor urgent matters please contact mike@example.net.')],
    ['vacation', autoReplied('kuroneko@example.org', 'Auto: on vacation', 'Thank you for your message. I am on vacation and will reply when I am back.')],
    ['left the company', autoReplied('shiro@example.com', 'Automatic reply', 'I am no longer with Example Corp. Please write to sales@example.com instead.')],
    ['unmonitored', autoReplied('noreply@example.com', 'Automatic reply: Order 123', 'This mailbox is not monitored. Your message has been received.')],
  ])('a real auto-reply (%s) stays an auto-reply', (_name, raw) => {
    const r = parse(raw);
    expect(r.kind).toBe('auto-reply');
    expect(r.recipients.every((x) => x.reason === 'vacation')).toBe(true);
  });
});

describe('one-line plain-text warnings', () => {
  const oneLine = (body: string, subject = 'Notice'): string => `From: mail-gateway@appliance.example.net
To: admin@example.com
Subject: ${subject}

${body}
`;

  it.each([
    ['Delivery to kijitora@example.jp failed: 550 5.1.1 mailbox unavailable', 'kijitora@example.jp'],
    ['kuroneko@example.org: 550 5.1.1 <kuroneko@example.org>: Recipient address rejected: User unknown in local recipient table', 'kuroneko@example.org'],
    ['Message for shiro@example.com rejected: mailbox full (4.2.2)', 'shiro@example.com'],
  ])('%s is a bounce', (body, recipient) => {
    for (const m of [oneLine(body), crlf(oneLine(body))]) {
      const r = parse(m);
      expect(r.kind).toBe('bounce');
      expect(r.recipients.map((x) => x.recipient)).toEqual([recipient]);
    }
  });

  it('the reason comes from the line', () => {
    const r = parse(oneLine('kuroneko@example.org: 550 5.1.1 <kuroneko@example.org>: Recipient address rejected: User unknown in local recipient table'));
    expect(r.recipients[0].reason).toBe('userunknown');
    expect(r.recipients[0].evidence.map((e) => e.rule)).toContain('text:one-line-failure');
  });

  it.each([
    'Thanks, I have forwarded it to kijitora@example.jp.',
    'Can you send the failed invoices to kijitora@example.jp before Friday?',
    '> Delivery to kijitora@example.jp failed: 550 5.1.1 mailbox unavailable\nDid you see this?',
  ])('a person\'s short mail is not a bounce: %s', (body) => {
    expect(parse(oneLine(body, 'Re: invoices')).kind).toBe('not-bounce');
  });
});
