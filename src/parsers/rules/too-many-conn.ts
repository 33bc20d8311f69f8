import type { Rule } from './rule.js';

/** Too many connections, recipients or messages in one session. */
export const tooManyConnRules: Rule[] = [
  { reason: 'toomanyconn', pattern: /\btoo many (?:connections|concurrent|simultaneous|sessions|recipients|smtp sessions|messages (?:in|per) (?:this )?(?:session|connection))|\bconnection (?:limit|rate limit) (?:exceeded|reached)|\bmaximum (?:number of )?(?:connections|recipients)|\brecipients? limit|\btoo many (?:open )?connections/i, example: '452 4.5.3 Too many recipients' },
];

/**
 * Limits on how often or how many times one client connects: Postfix anvil ("too many
 * connections from 192.0.2.1"), Exim ("Too many concurrent SMTP connections from this IP
 * address"), Tencent ("Connection frequency limited"), Microsoft ("exceeded the maximum number
 * of connections"). Tried before the sending-rate rules, which share the words "rate limit".
 */
export const connectionRateRules: Rule[] = [
  {
    reason: 'toomanyconn',
    pattern: /\bconnection (?:rate|frequency|count) (?:limit(?:ed)?|exceeded|(?:is )?too high)\b|\btoo many (?:connections|connection attempts|concurrent (?:smtp )?connections|smtp sessions) (?:from|per|for|in)\b|\bexceeded (?:the )?(?:maximum |max )?(?:number of )?(?:concurrent |simultaneous |allowed )?connections\b|\bmax(?:imum)? (?:number of )?connections? (?:per ip )?(?:reached|exceeded)\b/i,
    example: '421 4.7.0 mx.example.com Error: too many connections from 192.0.2.1',
    also: ['421 Too many concurrent SMTP connections from this IP address; please try again later.', '421 4.7.0 Connection rate limit exceeded', '550 Connection frequency limited. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000722'],
    counter: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.',
  },
];
