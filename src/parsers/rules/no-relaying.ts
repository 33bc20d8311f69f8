import type { Rule } from './rule.js';

/** The server refuses to relay to that domain for this client. */
export const noRelayingRules: Rule[] = [
  { reason: 'norelaying', pattern: /\bemail address is not verified\. the following identities failed|\brelay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited|rejected|refused|disallowed)|\bno relaying\b|\bnot (?:permitted|allowed) to relay|\bunable to relay|\bwe do not relay|\bcannot relay|\brelay not (?:authorized|permitted)|not an open relay|relaying mail to .{1,80} is not allowed|we do not relay non-local mail|not configured to relay/i, example: '550 5.7.1 <kijitora@example.com>... Relaying denied' },
  { reason: 'norelaying', pattern: /domain isn't in my list of allowed rcpthosts|\bnot in my list of (?:allowed )?rcpthosts|\brelaying to <[^>]{1,200}> (?:is )?(?:denied|prohibited)|\bmail server (?:permanently )?rejected message .{0,40}relay/i, example: '553 sorry, that domain isn\'t in my list of allowed rcpthosts (#5.7.1)' },
  // "Relaying is not allowed" (hMailServer, MDaemon), "requires authentication ... to a non-local
  // address" (hMailServer's refusal to relay for an unauthenticated client).
  {
    reason: 'norelaying',
    pattern: /\brelaying (?:is )?(?:not (?:allowed|permitted)|denied|prohibited)\b|\brequires authentication when attempting to send to a non-local/i,
    example: '550 Relaying is not allowed',
    also: ['530 SMTP authentication is required. This mail server requires authentication when attempting to send to a non-local e-mail address.'],
    counter: '550 Message relayed to non-compliant mailer',
  },
];
