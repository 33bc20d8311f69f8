import type { Rule } from './rule.js';

/** The destination accepts no mail at all (null MX, 521/556). */
export const notAcceptRules: Rule[] = [
  { reason: 'notaccept', pattern: /\bdoes not accept (?:any )?mail|\baccepts? no mail|\bnull mx\b|\bnot accepting (?:network )?messages|\bsystem not accepting|\bdomain (?:does not|doesn't) (?:accept|receive) (?:e-?mail|mail)|\bno mail(?:box)? service|\bno mail here\b/i, example: '521 5.3.2 <notaccept@libsisimai.net>: Recipient address rejected: System not accepting network messages' },
  { reason: 'notaccept', pattern: /\bmx (?:record )?(?:points to|is) (?:localhost|an invalid|0\.0\.0\.0)|\bname server .{0,40} refused|\bmail (?:for|to) this domain is not accepted|\bcouldn't find a mail exchanger|\bno mx record found|\bno mx (?:record )?found for domain|\ban mx or srv record indicated no smtp service/i, example: 'MX points to localhost' },
];
