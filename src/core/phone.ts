import { parsePhoneNumberFromString, type CountryCode, type NumberType } from 'libphonenumber-js/max';

/** Why a number cannot take an SMS; stored in the `erroneous` event. */
export type PhoneProblem = 'empty' | 'control_chars' | 'too_long' | 'unparsable' | 'invalid' | 'not_sms_capable';

export type PhoneCheck =
  | {
      ok: true;
      /** `+` and digits: the form stored, suppressed and searched on. */
      e164: string;
      /** ISO 3166 region of the number, when the metadata knows it. */
      region: string | null;
      type: NumberType;
    }
  | { ok: false; problem: PhoneProblem; reason: string };

/**
 * Number types that can receive an SMS. FIXED_LINE_OR_MOBILE is where a plan does not tell them
 * apart (US, CA…); fixed lines, toll-free, premium and shared-cost numbers are refused.
 */
const SMS_CAPABLE: ReadonlySet<NumberType> = new Set<NumberType>(['MOBILE', 'FIXED_LINE_OR_MOBILE', 'PERSONAL_NUMBER']);

const CONTROL = /[\x00-\x1f\x7f]/;

function bad(problem: PhoneProblem, reason: string): PhoneCheck {
  return { ok: false, problem, reason };
}

/**
 * Parses a phone number with the full (max) libphonenumber metadata and checks that it can take
 * an SMS. A number without `+` needs `defaultRegion` (ISO 3166 alpha-2, e.g. FR).
 *
 * @example checkPhoneNumber('06 12 34 56 78', 'FR') → { ok: true, e164: '+33612345678', region: 'FR', type: 'MOBILE' }
 */
export function checkPhoneNumber(input: string, defaultRegion?: string): PhoneCheck {
  const value = input.trim();
  if (value === '') return bad('empty', 'the number is empty');
  if (CONTROL.test(value)) return bad('control_chars', 'the number contains control characters (line breaks, tabs or NUL)');
  if (value.length > 64) return bad('too_long', 'the number is longer than 64 characters');
  const parsed = parsePhoneNumberFromString(value, defaultRegion ? { defaultCountry: defaultRegion as CountryCode } : undefined);
  if (!parsed) {
    return bad('unparsable', defaultRegion ? 'not a phone number' : 'not a phone number in international form (+ and country code); no default region is set');
  }
  if (!parsed.isValid()) return bad('invalid', `${parsed.number} is not a valid number of its numbering plan`);
  const type = parsed.getType();
  if (!type || !SMS_CAPABLE.has(type)) {
    return bad('not_sms_capable', `${parsed.number} is a ${(type ?? 'unknown').toLowerCase().replace(/_/g, ' ')} number, which cannot receive SMS`);
  }
  return { ok: true, e164: parsed.number, region: parsed.country ?? null, type };
}
