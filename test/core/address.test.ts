import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEmailAddress, parseMailbox } from '../../src/core/address.js';

describe('checkEmailAddress', () => {
  it.each([
    ['jane@example.com', 'jane@example.com'],
    ['  Jane.Doe+tag@Example.COM ', 'Jane.Doe+tag@example.com'],
    ['"john doe"@example.org', '"john doe"@example.org'],
    ["o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk"],
    ['jörg@bücher.de', 'jörg@xn--bcher-kva.de'],
    ['info@例え.テスト', 'info@xn--r8jz45g.xn--zckzah'],
    ['x@xn--bcher-kva.de', 'x@xn--bcher-kva.de'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
  ])('accepts %s', (input, address) => {
    const r = checkEmailAddress(input);
    expect(r).toMatchObject({ ok: true, address });
  });

  it.each([
    ['', 'empty'],
    ['jane.example.com', 'no_at'],
    ['@example.com', 'local_empty'],
    ['jane@', 'domain_empty'],
    ['jane@localhost', 'domain_no_dot'],
    ['jane@[192.0.2.1]', 'domain_literal'],
    ['jane@192.0.2.1', 'domain_tld'],
    ['jane..doe@example.com', 'local_syntax'],
    ['.jane@example.com', 'local_syntax'],
    ['jane.@example.com', 'local_syntax'],
    ['ja ne@example.com', 'local_syntax'],
    ['jane(comment)@example.com', 'local_syntax'],
    ['"unterminated@example.com', 'local_syntax'],
    ['jane@exa_mple.com', 'domain_label'],
    ['jane@-example.com', 'domain_label'],
    ['jane@example-.com', 'domain_label'],
    ['jane@example..com', 'domain_label'],
    ['jane@xn--zzzz.de', 'domain_idn'],
    ['jane@example.com\r\nBcc: victim@example.net', 'control_chars'],
    [`${'a'.repeat(65)}@example.com`, 'local_too_long'],
    [`jane@${'a'.repeat(64)}.com`, 'domain_label'],
    [`jane@${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.com`, 'domain_too_long'],
    [`${'a'.repeat(64)}@${Array.from({ length: 4 }, () => 'b'.repeat(60)).join('.')}.com`, 'too_long'],
  ])('refuses %j as %s', (input, problem) => {
    const r = checkEmailAddress(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem).toBe(problem);
      expect(r.reason.length).toBeGreaterThan(5);
    }
  });

  it('never throws and never lets a line break through', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = checkEmailAddress(s);
        if (r.ok) expect(r.address).not.toMatch(/[\r\n\0]/);
      }),
    );
  });

  it('accepts what fast-check calls an email address, within our limits', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (s) => {
        const r = checkEmailAddress(s);
        // fast-check allows a few things we refuse on purpose (numeric TLDs, over-long domains).
        if (!r.ok) expect(['domain_tld', 'too_long', 'domain_too_long']).toContain(r.problem);
      }),
    );
  });
});

describe('parseMailbox', () => {
  it('reads bare, named and quoted senders', () => {
    expect(parseMailbox('news@acme.example')).toEqual({ name: '', address: 'news@acme.example' });
    expect(parseMailbox('Acme News <news@acme.example>')).toEqual({ name: 'Acme News', address: 'news@acme.example' });
    expect(parseMailbox('"Acme, \\"Inc.\\"" <news@acme.example>')).toEqual({ name: 'Acme, "Inc."', address: 'news@acme.example' });
  });
  it('refuses invalid addresses and header injection', () => {
    expect(parseMailbox('Acme <not-an-address>')).toBeNull();
    expect(parseMailbox('Acme <news@acme.example>\r\nBcc: x@y.example')).toBeNull();
    expect(parseMailbox('a <b@c.example> <d@e.example>')).toBeNull();
  });
});
