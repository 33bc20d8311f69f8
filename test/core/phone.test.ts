import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPhoneNumber } from '../../src/core/phone.js';

describe('checkPhoneNumber', () => {
  it.each([
    ['+33612345678', undefined, '+33612345678', 'FR'],
    ['+33 6 12 34 56 78', undefined, '+33612345678', 'FR'],
    ['06 12 34 56 78', 'FR', '+33612345678', 'FR'],
    ['(415) 555-2671', 'US', '+14155552671', 'US'],
    ['+44 7911 123456', undefined, '+447911123456', 'GG'],
    ['0049 1512 3456789', 'DE', '+4915123456789', 'DE'],
  ])('accepts %s (region %s) as %s', (input, region, e164, country) => {
    expect(checkPhoneNumber(input, region)).toMatchObject({ ok: true, e164, region: country });
  });

  it.each([
    ['', undefined, 'empty'],
    ['+3361234\n5678', undefined, 'control_chars'],
    ['06 12 34 56 78', undefined, 'unparsable'],
    ['hello', 'FR', 'unparsable'],
    ['+3361234567', undefined, 'invalid'],
    ['+33145678901', undefined, 'not_sms_capable'],
    ['+33800123456', undefined, 'not_sms_capable'],
    [`+33${'6'.repeat(70)}`, undefined, 'too_long'],
  ])('refuses %j (region %s): %s', (input, region, problem) => {
    const r = checkPhoneNumber(input, region);
    expect(r).toMatchObject({ ok: false, problem });
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
  });

  it('is idempotent: the E.164 form of an accepted number is accepted as itself', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+?[0-9 ().-]{0,20}$/), fc.constantFrom(undefined, 'FR', 'US', 'GB'), (input, region) => {
        const r = checkPhoneNumber(input, region);
        if (!r.ok) return;
        expect(r.e164).toMatch(/^\+[1-9]\d{6,14}$/);
        expect(checkPhoneNumber(r.e164)).toMatchObject({ ok: true, e164: r.e164 });
      }),
    );
  });
});
