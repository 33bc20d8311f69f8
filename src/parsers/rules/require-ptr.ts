import type { Rule } from './rule.js';

/** The sending IP has no valid reverse-DNS name. */
export const requirePtrRules: Rule[] = [
  { reason: 'requireptr', pattern: /\breverse (?:dns|lookup|name|hostname|address|ip)|\brdns\b|\bno ptr\b|\bptr (?:record|lookup|check|name)|\bptr\b.{0,30}(?:not found|missing|failed|required)|\bdns ptr|\binverse (?:dns|lookup)/i, example: '550 5.7.25 <blocked@libsisimai.net>: Recipient address rejected: Reverse DNS validation failed' },
  { reason: 'requireptr', pattern: /\bcannot find your hostname|\bclient host name (?:does not match|not found|unknown)|\bunresolvable (?:client|host|ip|address)|\bhost (?:name )?(?:is )?(?:not )?(?:resolv(?:able|ed)|lookup failed) for (?:ip|your)|\bunverif(?:y|i)able sending ips?|\bhelo .{0,40} does not resolve|\bno (?:dns|hostname) for (?:your )?ip|\bip name lookup failed|\bcould not resolve your (?:address|ip)|\bresolve your address|\bmismatches client ip/i, example: '450 service permits 2 unverifyable sending IPs - neko.example.com is not 203.0.113.222' },
];
