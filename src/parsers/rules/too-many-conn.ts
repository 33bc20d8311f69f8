import type { Rule } from './rule.js';

/** Too many connections, recipients or messages in one session. */
export const tooManyConnRules: Rule[] = [
  { reason: 'toomanyconn', pattern: /\btoo many (?:connections|concurrent|simultaneous|sessions|recipients|smtp sessions|messages (?:in|per) (?:this )?(?:session|connection))|\bconnection (?:limit|rate limit) (?:exceeded|reached)|\bmaximum (?:number of )?(?:connections|recipients)|\brecipients? limit|\btoo many (?:open )?connections/i, example: '452 4.5.3 Too many recipients' },
];
