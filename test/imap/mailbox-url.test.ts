import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../src/config/load.js';
import { imapEnvelope } from '../../src/imap/envelope.js';
import { parseMailboxUrl, parseMailboxUrls } from '../../src/imap/mailbox-url.js';

describe('mailbox URLs', () => {
  it('reads a full URL with defaults', () => {
    const r = parseMailboxUrl('imaps://bounces%40example.com:p%40ss@imap.example.com/Bounces');
    expect(r).toEqual({
      ok: true,
      mailbox: {
        id: 'bounces@example.com@imap.example.com:993/Bounces',
        host: 'imap.example.com',
        port: 993,
        tls: 'tls',
        insecure: false,
        user: 'bounces@example.com',
        password: 'p@ss',
        folder: 'Bounces',
        after: { action: 'move', folder: 'Processed' },
        errorFolder: 'Errors',
      },
    });
  });

  it('reads the after-store actions, error folder and TLS modes', () => {
    const get = (u: string) => {
      const r = parseMailboxUrl(u);
      if (!r.ok) throw new Error(r.error);
      return r.mailbox;
    };
    expect(get('imap://u:p@h/').folder).toBe('INBOX');
    expect(get('imap://u:p@h/').tls).toBe('starttls');
    expect(get('imap://u:p@h/').port).toBe(143);
    expect(get('imap://u:p@h:1143/X?tls=off').tls).toBe('off');
    expect(get('imap://u:p@h/?after=move:Done').after).toEqual({ action: 'move', folder: 'Done' });
    expect(get('imap://u:p@h/?after=flag').after).toEqual({ action: 'flag', flag: '\\Seen' });
    expect(get('imap://u:p@h/?after=flag:$Done').after).toEqual({ action: 'flag', flag: '$Done' });
    expect(get('imap://u:p@h/?after=delete').after).toEqual({ action: 'delete' });
    expect(get('imap://u:p@h/?error=Bad').errorFolder).toBe('Bad');
    expect(get('imaps://u:p@h/?insecure=true').insecure).toBe(true);
  });

  it.each([
    ['http://u:p@h/', /not an IMAP URL/],
    ['not a url', /not a URL/],
    ['imap://h/INBOX', /needs user, password and host/],
    ['imap://u:p@h/?after=archive', /after must be/],
    ['imap://u:p@h/?tls=maybe', /tls must be starttls or off/],
    ['imaps://u:p@h/?tls=off', /always uses TLS/],
    ['imap://u:p@h/?colour=blue', /unknown parameter "colour"/],
    ['imap://u:p@h/Processed', /another folder/],
    ['imap://u:p@h/INBOX?error=INBOX', /error folder must differ/],
    ['imap://u:p@h/?insecure=yes', /insecure must be true or false/],
  ])('refuses %s', (url, message) => {
    const r = parseMailboxUrl(url);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('never repeats the password in an error', () => {
    const r = parseMailboxUrls('imap://u:s3cret-pw@h/?after=nope');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).not.toContain('s3cret-pw');
  });

  it('reads a comma list and refuses a mailbox listed twice', () => {
    const two = parseMailboxUrls('imap://a:p@h/INBOX, imap://b:p@h/INBOX');
    expect(two.ok && two.mailboxes.map((m) => m.id)).toEqual(['a@h:143/INBOX', 'b@h:143/INBOX']);
    const twice = parseMailboxUrls('imap://a:p@h/INBOX,imap://a:q@h/INBOX');
    expect(twice.ok).toBe(false);
  });

  it('is validated at start-up, named in the error and masked in config check', () => {
    const base = { MAILTRAIL_DATA_DIR: 'memory://' };
    expect(() => loadConfig({ ...base, MAILTRAIL_IMAP_URLS: 'imap://u:topsecret@h/?after=x' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, MAILTRAIL_IMAP_URLS: 'imap://u:topsecret@h/?after=x' })).toThrow(/^MAILTRAIL_IMAP_URLS: entry 1 /);
    try {
      loadConfig({ ...base, MAILTRAIL_IMAP_URLS: 'imap://u:topsecret@h/?after=x' });
    } catch (err) {
      expect((err as Error).message).not.toContain('topsecret');
    }
    const config = loadConfig({ ...base, MAILTRAIL_IMAP_URLS: 'imap://u:topsecret@h/' });
    expect(config.MAILTRAIL_IMAP_URLS).toHaveLength(1);
    expect(describeConfig(config).MAILTRAIL_IMAP_URLS).not.toContain('topsecret');
    expect(loadConfig(base).MAILTRAIL_IMAP_URLS).toEqual([]);
  });
});

describe('envelope from mailbox headers', () => {
  it('takes Return-Path and the delivering MTA recipient headers', () => {
    const raw = Buffer.from(
      [
        'Return-Path: <>',
        'Delivered-To: b+abc123@bounces.test',
        'X-Original-To: B+ABC123@bounces.test',
        'To: "Sender" <b+abc123@bounces.test>,',
        ' other@example.com',
        'Subject: Undelivered Mail',
        '',
        'Delivered-To: body@example.com',
      ].join('\r\n'),
    );
    expect(imapEnvelope(raw, 'imap://u@h:143/INBOX;UIDVALIDITY=1/;UID=2')).toEqual({
      source: 'imap',
      mailFrom: '',
      rcptTo: ['b+abc123@bounces.test', 'other@example.com'],
      mailbox: 'imap://u@h:143/INBOX;UIDVALIDITY=1/;UID=2',
    });
  });

  it('copes with a message that has no header block end', () => {
    const env = imapEnvelope(Buffer.from('Return-Path: <verp@bounces.test>\nTo: x@example.com'), 'm');
    expect(env.mailFrom).toBe('verp@bounces.test');
    expect(env.rcptTo).toEqual(['x@example.com']);
  });
});
