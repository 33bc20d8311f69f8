import type { Rule } from './rule.js';

/** The recipient domain does not exist or cannot be resolved to a mail host. */
export const hostUnknownRules: Rule[] = [
  { reason: 'hostunknown', pattern: /\b(?:host|domain|recipient domain|mail domain)(?: name)? (?:is )?(?:not found|unknown|lookup failed|does not exist|not exist|invalid|not known)|\bunknown (?:host|domain)/i, example: 'DNS lookup failure: host cx.libsisimai.org not found' },
  { reason: 'hostunknown', pattern: /\bhost (?:or domain name )?not found|\bno (?:such|valid) (?:host|domain)|\bdomain (?:name )?(?:not found|unknown)|name or service not known|\bnxdomain\b|unrouteable (?:mail )?(?:domain|address)|unroutable (?:domain|address)/i, example: 'Host or domain name not found. Name service error for name=example.gov type=MX: Host not found' },
  { reason: 'hostunknown', pattern: /\bdns (?:lookup )?(?:failure|error)\b.{0,60}not found|\bbad destination (?:system|host) address|\bdomain (?:does not|doesn't) exist|recipient (?:address|domain) (?:has no|does not have) (?:valid )?(?:mx|dns)|\bno mx (?:record|host)/i, example: 'Bad destination system address' },
  { reason: 'hostunknown', pattern: /\bhost unknown\b|\bunknown mail domain|\bdomain (?:is )?not (?:hosted|served|handled|configured) here|illegal host\/domain name found|the account or domain may not exist|\bnot (?:a )?local (?:host|domain)/i, example: 'The mail server could not deliver mail to kijitora@example.net.  The account or domain may not exist, they may be blacklisted, or missing the proper dns entries.' },
  // qmail ("Sorry, I couldn't find any host named x. (#5.1.2)"), Exim ("all relevant MX records
  // point to non-existent hosts"), Exchange ("SMTPSEND.DNS.NonExistentDomain; nonexistent domain").
  {
    reason: 'hostunknown',
    pattern: /\bcouldn'?t find any host (?:named|by that name)|\bnon-?existent (?:domain|host)s?\b|\bdomain \S{1,100} (?:does not|doesn't) exist\b|\bno (?:valid )?(?:mx|a|aaaa)(?: or (?:a|mx|aaaa))? records? (?:found )?for (?:the )?(?:recipient )?domain/i,
    example: "Sorry, I couldn't find any host named cx.example.com. (#5.1.2)",
    also: ['all relevant MX records point to non-existent hosts', '554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain'],
    counter: '451 Temporary lookup failure: the name server did not answer',
  },
];
