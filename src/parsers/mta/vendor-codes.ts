import type { Reason } from '../report.js';
import type { Rule } from '../rules/rule.js';

/**
 * Vendor-specific codes and boilerplate that name the reason outright, whatever the status
 * code or SMTP stage around them says: each vendor documents what its own code means, so these
 * are decided before the generic status/phrase/stage logic in classify.ts.
 */
export const VENDOR_RULES: readonly Rule[] = [
  // Exchange 2000/2003 Internet Mail Service: "MSEXCH:IMS:org:site:server 0 (000C05A6) Unknown Recipient"
  { reason: 'userunknown', pattern: /MSEXCH:IMS:[^\n]{0,120}\(000C05A6\)/i, example: 'MSEXCH:IMS:KIJITORA CAT:EXAMPLE:EXCHANGE 0 (000C05A6) Unknown Recipient' },
  { reason: 'networkerror', pattern: /MSEXCH:IMS:[^\n]{0,120}\(00120270\)/i, example: 'MSEXCH:IMS:Org Name:Site Name:Server Name 0 (00120270) Too Many Hops' },
  { reason: 'toomanyconn', pattern: /MSEXCH:IMS:[^\n]{0,120}\(00010256\)/i, example: 'MSEXCH:IMS:Organization:SITE:DESTSRVR 0 (00010256) Too many recipients.' },
  // Exchange Online / Office 365 directory lookups and proxy wording.
  { reason: 'userunknown', pattern: /RESOLVER\.ADR\.Recip(?:ient)?NotFound|remote server returned unknown recipient/i, example: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
  // Lotus Domino's directory lookup.
  { reason: 'userunknown', pattern: /\bnot listed in (?:the )?(?:Domino Directory|public name (?:&|and) address book)/i, example: 'User some.name (kijitora@example.jp) not listed in Domino Directory' },
  // Mimecast's own problem line.
  { reason: 'userunknown', pattern: /recipient email address is possibly incorrect/i, example: '-- Recipient email address is possibly incorrect' },
  // Local delivery agents (Sendmail's mail.local, Ipswitch IMail) know their own users for sure.
  { reason: 'userunknown', pattern: /\bmail\.local: unknown user|\binvalid final delivery userid|^unknown user: \S{1,64}@/im, example: 'mail.local: unknown user: kijitora' },
  // Verizon Wireless MMS gateway.
  { reason: 'userunknown', pattern: /no valid recipients for this MM\b/i, example: 'Error: No valid recipients for this MM' },
  // Cloudflare Email Routing could not hand the message on.
  { reason: 'systemerror', pattern: /\bupstream error, please check https:\/\/developers\.cloudflare\.com\/email-routing/i, example: '421 4.3.0 Upstream error, please check https://developers.cloudflare.com/email-routing/postmaster for possible reasons why.' },
  // Mimecast's documented refusals: a host network its policies do not allow, a signature match.
  { reason: 'policyviolation', pattern: /\bhost network not allowed - https:\/\/community\.mimecast\.com/i, example: '554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554' },
  { reason: 'virusdetected', pattern: /\bemail rejected due to security policies - MC\w{0,20}Signature/i, example: '554 email rejected due to security policies - MCSpamSignature.sa.2.2' },
  // au (EZweb) notice when the recipient's domain filter refused the message.
  { reason: 'filtered', pattern: /each of the following recipients was rejected by a remote mail server/i, example: 'Each of the following recipients was rejected by a remote mail server.' },
  // Gmail's own notice after its lookup of the address failed.
  { reason: 'userunknown', pattern: /\bwasn't delivered to \S{1,200} because the address couldn't be found/i, example: "** Address not found ** Your message wasn't delivered to kijitora@example.it because the address couldn't be found." },
  // Trend Micro InterScan MSS says only "Unable to deliver" when the recipient was refused.
  { reason: 'userunknown', pattern: /Message from InterScan Messaging Security Suite\b.{0,400}?\bUnable to deliver message to </is, example: '****** Message from InterScan Messaging Security Suite ****** The following mail could not be delivered. Reason: Unable to deliver message to <kijitora@example.jp> (and other recipients in the same domain).' },
  // Zoho Mail's refusal of the sending domain.
  { reason: 'rejected', pattern: /\bmail rejected by destination domain/i, example: '541 5.4.1 Mail rejected by destination domain' },
];

/**
 * Orange / La Poste (France Telecom) append a label and a three-digit code to every refusal,
 * e.g. "LPN007_416", "OFR_999 [999]", "OFR006_102". The code decides the reason.
 */
const ORANGE_LABEL = /\b(?:LPNAAA|LPN|OFR|OUK)\d{0,3}_(\d{3})\b/;
const ORANGE_CODES: Record<string, Reason> = {
  // 1xx: the connecting client (IP, host, volume) is refused.
  '101': 'blocked', '102': 'blocked', '103': 'blocked', '104': 'toomanyconn', '105': 'blocked',
  '107': 'blocked', '108': 'blocked', '109': 'blocked', '999': 'blocked',
  // 3xx/4xx: authentication, the sender, the recipient.
  '305': 'securityerror', '401': 'authfailure', '402': 'securityerror', '403': 'rejected', '405': 'rejected',
  '415': 'rejected', '416': 'userunknown', '417': 'mailboxfull', '420': 'suspend', '421': 'rejected', '426': 'suspend',
  // 5xx: the message.
  '505': 'systemerror', '506': 'spamdetected', '510': 'blocked', '514': 'mesgtoobig', '517': 'authfailure',
  // 6xx: local policy.
  '630': 'policyviolation',
};

/** Wording that means one thing only when a given provider's own servers say it. */
const HOST_RULES: ReadonlyArray<Rule & { host: RegExp }> = [
  // Outlook.com / Hotmail answer "mailbox unavailable" only for addresses that do not exist.
  { host: /(?:^|\.)(?:hotmail|outlook|live|msn)\.com$/i, reason: 'userunknown', pattern: /requested action not taken: mailbox unavailable/i, example: '550 Requested action not taken: mailbox unavailable (-0000000022:2222:-0000000022)' },
];

/** Every vendor-table entry as one pattern with a stable id, for the overfitting report (bench/score.ts). */
export function vendorEntries(): Array<{ id: string; reason: Reason; pattern: RegExp }> {
  return [
    ...HOST_RULES.map((r, i) => ({ id: `host/${i}:${r.reason}`, reason: r.reason, pattern: r.pattern })),
    ...Object.entries(ORANGE_CODES).map(([code, reason]) => ({ id: `orange/${code}:${reason}`, reason, pattern: new RegExp(`${ORANGE_LABEL.source.replace('(\\d{3})', code)}`) })),
    ...VENDOR_RULES.map((r, i) => ({ id: `vendor/${i}:${r.reason}`, reason: r.reason, pattern: r.pattern })),
  ];
}

/**
 * The reason a vendor's own code or boilerplate names in a diagnostic, with the matched text.
 * `hosts` are the reporting and remote MTA names, for provider-scoped wording.
 */
export function vendorReason(diag: string, hosts: readonly string[] = []): { reason: Reason; matched: string } | null {
  for (const rule of HOST_RULES) {
    if (!hosts.some((h) => rule.host.test(h))) continue;
    const m = rule.pattern.exec(diag);
    if (m) return { reason: rule.reason, matched: m[0] };
  }
  const orange = ORANGE_LABEL.exec(diag);
  if (orange && ORANGE_CODES[orange[1]]) return { reason: ORANGE_CODES[orange[1]], matched: orange[0] };
  for (const rule of VENDOR_RULES) {
    const m = rule.pattern.exec(diag);
    if (m) return { reason: rule.reason, matched: m[0] };
  }
  return null;
}
