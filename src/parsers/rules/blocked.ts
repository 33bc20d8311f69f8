import type { Rule } from './rule.js';

/** Blocks that name the client host outright; they outrank spam wording in the same reply. */
export const clientBlockedRules: Rule[] = [
  { reason: 'blocked', pattern: /\bclient host (?:\[[^\]]{1,60}\] )?(?:rejected|blocked|refused)/i, example: '550 mwinf5c04 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102' },
];

/** The sending IP or host was refused: blocklists, connection-level blocks. Never a hard bounce. */
export const blockedRules: Rule[] = [
  { reason: 'blocked', pattern: /\b(?:blocked|listed|rejected|refused|denied) (?:using|by|at|in|on) (?:[\w.-]*\.)?(?:spamhaus|spamcop|sorbs|barracuda|dnsbl|rbl|uceprotect|abuseat|cbl|psbl|mailspike|invaluement|truncate\.gbudb|bl\.|zen\.)/i, example: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org' },
  { reason: 'blocked', pattern: /\bclient host (?:\[[^\]]{1,60}\] )?(?:rejected|blocked|refused)|\bblocked using\b|\b(?:ip|host|client|server)(?: address)? (?:\S{1,60} )?(?:is |has been |was )?(?:blocked|blacklisted|black-listed|blocklisted|banned|rejected|refused|not allowed|denied)\b|\bmy name was rejected|\bnot accepting connections|\binvalid ip for sending/i, example: '554 5.7.1 <a8-95.smtp-out.amazonses.com[203.0.113.22]>: Client host rejected: blocked using mail.neko.example.org' },
  { reason: 'blocked', pattern: /\b(?:blacklisted|blocklisted|blacklist|blocklist|\bdnsbl\b|\brbl\b|realtime block list|spamhaus|spamcop|\bsorbs\b|\bcbl\b)|\blisted (?:on|in|at) (?:an? )?(?:dns|rbl|black|block|spam)|\bblocked for abuse\b|\bblocked by (?:ldap|policy|the recipient|our|an? )/i, example: '550 Error - Blocked for abuse. See http://example.net/nyaan' },
  { reason: 'blocked', pattern: /\bplease use the smtp server of your isp|\bdynamic (?:ip|pool|address)|\bresidential (?:ip|address)|\bdial-?up|\bnot accept(?:ing)? (?:mail|e-?mail|messages|connections) from (?:your|this|dynamic|residential)|\bdirect (?:to mx )?(?:smtp|mail) (?:connections? )?(?:from|is)? ?(?:not allowed|prohibited)/i, example: '550 5.7.0 <shironeko@example.jp>... Please use the smtp server of your ISP.' },
  { reason: 'blocked', pattern: /\baccess (?:denied|refused)[.,;:]? (?:ip|host|client|your ip|\[)|\bconnection (?:refused|rejected|denied) (?:from|by|due)|\b(?:ip|host) (?:\S{1,60} )?(?:is )?not (?:authorized|permitted|allowed) to (?:send|connect|relay)|\bsmtp (?:access|connection) denied|\bnot allowed to send mail from/i, example: '554 5.7.1 Access denied [192.0.2.1]' },
  { reason: 'blocked', pattern: /\bts0[1-4]\b|\bafter initial connection: 5|messages from \S{1,60} temporarily deferred due to|\bdeferred due to user complaints|\btoo many (?:complaints|spam complaints)|\byour (?:ip|server|network) (?:has been |is )?(?:blocked|blacklisted|listed)|\bblocked\b.{0,60}\bip\b|\bip\b.{0,60}\bblocked\b/i, example: '421 4.7.0 [TS01] Messages from 192.0.2.25 temporarily deferred due to user complaints' },
  // Microsoft's block list of networks ("part of their network is on our block list", "banned
  // sending IP", "traffic not accepted from this IP") and DNSBL refusals with a spaced "black list".
  {
    reason: 'blocked',
    pattern: /\b(?:is |are )?(?:on|in) (?:a|an|our|the|several|one or more) (?:dns |ip |rbl |real[- ]?time |public )?(?:block|black|deny) ?lists?\b|\bbanned sending ip\b|\bnot accepted from this ip\b|\bconnections? (?:will )?not (?:be )?accepted from\b/i,
    example: "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
    also: ['550 5.7.606 Access denied, banned sending IP [192.0.2.1].', '553 5.7.1 Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus\'s list'],
    counter: 'The sender is on the recipient\'s personal block list',
  },
  // The client's HELO name refused (Postfix reject_invalid_helo_hostname / reject_non_fqdn_helo_hostname,
  // Exim "HELO/EHLO required", Sendmail "Invalid HELO name").
  {
    reason: 'blocked',
    pattern: /\bhelo command rejected\b|\bneed fully-qualified hostname\b|\binvalid (?:helo|ehlo) (?:name|hostname|argument)\b|\b(?:helo|ehlo) (?:name|hostname) (?:is )?(?:invalid|not (?:valid|allowed|resolvable))\b/i,
    example: '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname',
    also: ['550 5.7.1 Invalid HELO name (See RFC2821 4.1.1.1)'],
    counter: '550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown',
  },
];
