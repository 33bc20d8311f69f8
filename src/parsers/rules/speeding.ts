import type { Rule } from './rule.js';

/** The sender is being rate-limited. */
export const speedingRules: Rule[] = [
  { reason: 'speeding', pattern: /\brate limit(?:ed|ing)?\b|\bsending rate|\bsending (?:too much|too many|too fast)|\btoo (?:much|many) (?:mail|messages|emails) (?:from|in a short|per)|\bunusual (?:rate|volume)|\b(?:rate|volume) of (?:unsolicited )?mail|\bthrottl(?:ed|ing)|\breceiving mail at a rate|\bexceeded (?:the )?(?:message|sending|hourly|daily) (?:rate|limit)|\btry (?:again )?later.{0,30}(?:rate|volume)|\bsent to too many recipients (?:this|per|in the last) (?:hour|day|minute)/i, example: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.' },
];
