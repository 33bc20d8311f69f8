import { describe, expect, it } from 'vitest';
import { decodeEncodedWords } from '../../src/parsers/encoded-words.js';
import { parse } from '../../src/parsers/index.js';
import { decodeQuotedPrintable, parseEntity, partText, toBinaryString } from '../../src/parsers/mime.js';

const bounce = (body: string, headers = ''): string =>
  `From: MAILER-DAEMON@mx.example.jp\nTo: sender@example.org\nSubject: Undelivered Mail Returned to Sender\n${headers}\n${body}`;

describe('MIME walker', () => {
  it('undoes quoted-printable, soft line breaks included', () => {
    expect(decodeQuotedPrintable('Mail=\nbox Full =3D yes')).toBe('Mailbox Full = yes');
  });

  it('decodes base64 bodies and their charset', () => {
    const text = Buffer.from('<a@example.jp>: 550 5.1.1 User unknown', 'utf8').toString('base64');
    const part = parseEntity(toBinaryString(`Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${text}\n`));
    expect(partText(part)).toContain('User unknown');
  });

  it('decodes ISO-2022-JP and Shift_JIS text', () => {
    const jis = Buffer.from('1b2442245a244124631b2842', 'hex'); // "ユーザ" family sample: ESC $ B ... ESC ( B
    const part = parseEntity(Buffer.concat([Buffer.from('Content-Type: text/plain; charset=ISO-2022-JP\n\n'), jis]).toString('latin1'));
    expect(partText(part)).toBe(new TextDecoder('iso-2022-jp').decode(jis));
    const sjis = Buffer.from([0x83, 0x65, 0x83, 0x58, 0x83, 0x67]); // テスト
    const sj = parseEntity(Buffer.concat([Buffer.from('Content-Type: text/plain; charset=Shift_JIS\n\n'), sjis]).toString('latin1'));
    expect(partText(sj)).toBe('テスト');
  });

  it('decodes RFC 2047 encoded words, joining adjacent ones', () => {
    expect(decodeEncodedWords('=?UTF-8?B?44OG44K5?= =?UTF-8?Q?=E3=83=88?=')).toBe('テスト');
    expect(decodeEncodedWords('=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=')).toBe('テスト');
  });

  it('unfolds headers and walks nested multiparts', () => {
    const raw = 'Content-Type: multipart/mixed;\n\tboundary="a"\n\n--a\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\ninner\n--b--\n--a--\n';
    const root = parseEntity(raw);
    expect(root.type).toBe('multipart/mixed');
    expect(root.parts[0].parts[0].body.trim()).toBe('inner');
  });

  it('gives the same report for LF and CRLF input', () => {
    const lf = bounce('<kijitora@example.jp>:\nhost mx.example.jp said: 550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown\n');
    const crlf = lf.replace(/\n/g, '\r\n');
    const a = parse(lf);
    const b = parse(crlf);
    expect(a.recipients[0].reason).toBe('userunknown');
    expect(b.recipients).toEqual(a.recipients);
  });

  it('finds our X-Mailtrail-Id in the returned headers', () => {
    const raw = [
      'From: MAILER-DAEMON@mx.example.jp', 'To: bounces+abc@mailtrail.example', 'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', '', '--B', 'Content-Type: text/plain', '', 'failed', '--B',
      'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.jp', 'Original-Envelope-Id: env-1', '',
      'Final-Recipient: rfc822; kijitora@example.jp', 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 User unknown', '',
      '--B', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <m1@mailtrail.example>', 'X-Mailtrail-Id: mt_123', 'Return-Path: <bounces+abc@mailtrail.example>', '', '--B--', '',
    ].join('\n');
    const r = parse(raw);
    expect(r.kind).toBe('bounce');
    expect(r.original).toMatchObject({ message_id: 'm1@mailtrail.example', mailtrail_id: 'mt_123', original_envelope_id: 'env-1', envelope_from: 'bounces+abc@mailtrail.example' });
    expect(r.recipients[0]).toMatchObject({ recipient: 'kijitora@example.jp', reason: 'userunknown', bounce_class: 'hard', status: '5.1.1', replycode: '550' });
  });
});
