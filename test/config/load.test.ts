import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/schema.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.MAILTRAIL_HTTP_PORT).toBe(8025);
    expect(c.MAILTRAIL_SMTP_PORT).toBe(2525);
    expect(c.MAILTRAIL_DATA_DIR).toBe('./data');
    expect(c.MAILTRAIL_BOUNCE_DOMAIN).toEqual(['bounces.localhost']);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.MAILTRAIL_DELIVERED_AFTER).toBe(15 * 60_000);
  });

  it('parses lists, durations and URLs', () => {
    const c = loadConfig({
      MAILTRAIL_BOUNCE_DOMAIN: 'Bounces.Example.com, b2.example.net',
      MAILTRAIL_DELIVERED_AFTER: '2h',
      MAILTRAIL_PUBLIC_URL: 'https://t.example.com/',
      DATABASE_URL: 'postgres://u:p@db:5432/mt',
    });
    expect(c.MAILTRAIL_BOUNCE_DOMAIN).toEqual(['bounces.example.com', 'b2.example.net']);
    expect(c.MAILTRAIL_DELIVERED_AFTER).toBe(7_200_000);
    expect(c.MAILTRAIL_PUBLIC_URL).toBe('https://t.example.com');
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ MAILTRAIL_HTTP_PORT: 'abc' }, /^MAILTRAIL_HTTP_PORT: must be a port number 1-65535 \(got "abc"\)$/],
    [{ MAILTRAIL_SMTP_PORT: '70000' }, /^MAILTRAIL_SMTP_PORT: must be a port number/],
    [{ MAILTRAIL_SECRET: 'short' }, /^MAILTRAIL_SECRET: is too short \(5 chars\)/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: must be a postgres:\/\/ URL$/],
    [{ MAILTRAIL_DELIVERED_AFTER: '15 minutes' }, /^MAILTRAIL_DELIVERED_AFTER: must be a duration/],
    [{ MAILTRAIL_BOUNCE_DOMAIN: 'localhost' }, /^MAILTRAIL_BOUNCE_DOMAIN: must be a comma list of domain names/],
    [{ MAILTRAIL_PUBLIC_URL: 'not a url' }, /^MAILTRAIL_PUBLIC_URL: must be a URL/],
    [{ MAILTRAIL_HTTP_PROT: '1' }, /^MAILTRAIL_HTTP_PROT: unknown setting/],
  ];
  it.each(bad)('rejects %j with one line naming the variable', (env, message) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('never shows a secret value in an error or in the effective config', () => {
    expect(() => loadConfig({ MAILTRAIL_SECRET: 'hunter2' })).toThrow(/^MAILTRAIL_SECRET: is too short \(7 chars\)/);
    expect(() => loadConfig({ MAILTRAIL_SECRET: 'hunter2' })).not.toThrow(/hunter2/);
    const shown = describeConfig(
      loadConfig({ MAILTRAIL_SECRET: 'x'.repeat(40), DATABASE_URL: 'postgres://mt:pa55word@db/mt' }),
    );
    expect(shown.MAILTRAIL_SECRET).toBe('**** (40 chars)');
    expect(shown.DATABASE_URL).toBe('postgres://mt:****@db/mt');
    expect(JSON.stringify(shown)).not.toContain('pa55word');
    const imap = describeConfig(loadConfig({ MAILTRAIL_IMAP_URLS: 'imap://bounce:s3cret@127.0.0.1:1143/INBOX' }));
    expect(imap.MAILTRAIL_IMAP_URLS).toMatch(/^bounce@127\.0\.0\.1:1143\/INBOX \(password masked\)$/);
  });

  // docs/configuration.md holds the table; test/docs/configuration.test.ts checks it is current.
  it('every setting has a description', () => {
    for (const [name, s] of Object.entries(SETTINGS)) expect(s.description.length, name).toBeGreaterThan(10);
  });
});
