/** Address extraction and normalisation for recipients found in free text. */

/** One e-mail address; domain part requires a dot. Quantifiers are bounded and do not nest. */
const ADDRESS = /[A-Za-z0-9!#$%&'*+\/=?^_`{|}~.-]{1,64}@[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63}){1,8}/;
const ADDRESS_G = new RegExp(ADDRESS.source, 'g');

/** First address in a text, cleaned, or ''. e.g. `rfc822; <Kiji@Example.JP>` → `Kiji@Example.JP`. */
export function firstAddress(text: string): string {
  const m = ADDRESS.exec(text.length > 2048 ? text.slice(0, 2048) : text);
  return m ? cleanAddress(m[0]) : '';
}

/** All addresses in a text, in order of appearance. */
export function allAddresses(text: string): string[] {
  return Array.from(text.matchAll(ADDRESS_G), (m) => cleanAddress(m[0]));
}

/** Strips punctuation that free text glues to addresses. */
export function cleanAddress(a: string): string {
  let s = a.replace(/^[.'`]+|[.'`-]+$/g, '');
  // "mailto:" prefixes and "=" from quoted-printable soft breaks never belong to a local part.
  s = s.replace(/^mailto:/i, '');
  return s;
}

/** True for the addresses of bounce daemons: they are never failed recipients. */
export function isDaemonAddress(a: string): boolean {
  return /^(?:mailer-daemon|mailerdaemon|mail-daemon)@/i.test(a);
}

/**
 * True for the role addresses of mailing lists (RFC 2142 and list managers' conventions:
 * owner-x, x-request, x-owner, x-bounces, FML's x-ctl, x-admin): a list's, never a member's.
 */
export function isListRoleAddress(a: string): boolean {
  return /^(?:owner-[^@]+|[^@]+-(?:request|owner|bounces?|ctl|admin|help|subscribe|unsubscribe|join|leave))@/i.test(a);
}
