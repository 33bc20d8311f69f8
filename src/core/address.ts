import { domainToASCII } from 'node:url';

/** Why an address cannot be sent to; stored in the `erroneous` event. */
export type AddressProblem =
  | 'empty'
  | 'control_chars'
  | 'no_at'
  | 'too_long'
  | 'local_empty'
  | 'local_too_long'
  | 'local_syntax'
  | 'local_quoted'
  | 'domain_empty'
  | 'domain_literal'
  | 'domain_idn'
  | 'domain_too_long'
  | 'domain_no_dot'
  | 'domain_label'
  | 'domain_tld';

export type AddressCheck =
  | {
      ok: true;
      /**
       * local part as given (without quotes that change nothing: `"ab"` is `ab`) + the domain in
       * lower-case ASCII (punycode for IDN).
       */
      address: string;
      local: string;
      domain: string;
    }
  | { ok: false; problem: AddressProblem; reason: string };

// RFC 5322 atext, plus any non-ASCII character (RFC 6531 internationalized local parts).
const ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+$/;
// RFC 5322 quoted-string content: printable ASCII except `"` and `\`, or a quoted pair.
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"$/;
// What a quoted local part may hold to be sent exactly as stored: atext, dots and inner spaces.
// The mail library (nodemailer, whose addressparser reads the envelope and the To header)
// turns `<` `>` into spaces, unquotes, unescapes quoted pairs and trims spaces inside quotes,
// and `,` `;` `:` `@` `(` `)` `[` `]` are where naive parsers down the line split an address:
// `"x>,<victim@evil.example"@example.net` went out as another address than the one checked.
const SAFE_CHAR = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\uffff.-]";
const QUOTED_SAFE = new RegExp(`^"${SAFE_CHAR}(?:(?:${SAFE_CHAR}| )*${SAFE_CHAR})?"$`);
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// C0 controls and DEL: CR/LF here would be header or SMTP command injection.
const CONTROL = /[\x00-\x1f\x7f]/;

function bad(problem: AddressProblem, reason: string): AddressCheck {
  return { ok: false, problem, reason };
}

/**
 * Checks an email address against the rules a relay and the receiving MX apply (RFC 5321 length
 * limits, RFC 5322 dot-atom / quoted-string local part, LDH domain labels, IDNA via punycode).
 * Address literals (`user@[192.0.2.1]`) and dotless domains are refused: they are valid syntax
 * but never a deliverable Internet address for bulk mail.
 *
 * @example checkEmailAddress('Jörg@Bücher.de') → { ok: true, address: 'Jörg@xn--bcher-kva.de', ... }
 */
export function checkEmailAddress(input: string): AddressCheck {
  const value = input.trim();
  if (value === '') return bad('empty', 'the address is empty');
  if (CONTROL.test(value)) return bad('control_chars', 'the address contains control characters (line breaks, tabs or NUL)');
  const at = value.lastIndexOf('@');
  if (at < 0) return bad('no_at', 'the address has no @');
  let local = value.slice(0, at);
  const rawDomain = value.slice(at + 1);

  if (local === '') return bad('local_empty', 'the part before @ is empty');
  if (Buffer.byteLength(local, 'utf8') > 64) return bad('local_too_long', 'the part before @ is longer than 64 octets (RFC 5321 4.5.3.1.1)');
  const quoted = local.startsWith('"');
  if (quoted ? !QUOTED.test(local) : !local.split('.').every((atom) => ATOM.test(atom))) {
    return bad('local_syntax', quoted ? 'the quoted part before @ is malformed' : 'the part before @ has a character or dot that is not allowed');
  }
  if (quoted) {
    const inner = local.slice(1, -1);
    // Quotes around a dot-atom change nothing (RFC 5321 4.1.2): stored, keyed and sent unquoted.
    if (inner.split('.').every((atom) => ATOM.test(atom))) local = inner;
    else if (!QUOTED_SAFE.test(local)) {
      return bad('local_quoted', 'the quoted part before @ may hold only letters, digits, dots, inner spaces and !#$%&\'*+/=?^_`{|}~-: it would not be sent exactly as given');
    }
  }

  if (rawDomain === '') return bad('domain_empty', 'the domain after @ is empty');
  if (rawDomain.startsWith('[')) return bad('domain_literal', 'address literals like [192.0.2.1] are not accepted: use a domain name');
  const domain = domainToASCII(rawDomain);
  if (domain === '') {
    // domainToASCII answers '' both for a bad IDN and for plain junk: name the likely one.
    const idn = /[^\x00-\x7f]/.test(rawDomain) || /(^|\.)xn--/i.test(rawDomain);
    return idn
      ? bad('domain_idn', 'the internationalized domain cannot be converted to punycode (IDNA)')
      : bad('domain_label', 'the domain has a character that is not a letter, digit, hyphen or dot');
  }
  if (domain.length > 253) return bad('domain_too_long', 'the domain is longer than 253 characters');
  const labels = domain.split('.');
  if (labels.length < 2) return bad('domain_no_dot', 'the domain has no dot: it is not an Internet domain');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      return bad('domain_label', `the domain label "${label.slice(0, 63)}" is empty, too long, or has a bad character or hyphen`);
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return bad('domain_tld', 'the top-level domain is numeric: an IP address is not a domain');
  const address = `${local}@${domain}`;
  // RFC 5321 4.5.3.1.3: a path is at most 256 octets including the angle brackets.
  if (Buffer.byteLength(address, 'utf8') > 254) return bad('too_long', 'the address is longer than 254 octets (RFC 5321 4.5.3.1.3)');
  return { ok: true, address, local, domain };
}

export interface Mailbox {
  /** Display name, '' when absent. */
  name: string;
  address: string;
}

/**
 * Reads a sender written as `addr@example.com` or `Display Name <addr@example.com>` (the name
 * may be quoted). Null when the address inside is not valid.
 *
 * @example parseMailbox('"Acme, Inc." <news@acme.example>') → { name: 'Acme, Inc.', address: 'news@acme.example' }
 */
export function parseMailbox(input: string): Mailbox | null {
  if (CONTROL.test(input)) return null;
  const m = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^"<>]*?))\s*<([^<>]+)>\s*$/.exec(input);
  const name = m ? (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? '')).trim() : '';
  const check = checkEmailAddress(m ? m[3] : input);
  return check.ok ? { name, address: check.address } : null;
}

/**
 * The key an address is compared and suppressed by: the checked address in lower case, or the
 * trimmed, lower-cased input when it is not a valid address.
 *
 * @example addressKey('"Jane"@Bücher.de') → 'jane@xn--bcher-kva.de'
 */
export function addressKey(input: string): string {
  const check = checkEmailAddress(input);
  return (check.ok ? check.address : input.trim()).toLowerCase();
}
