import type { Rule } from './rule.js';

/** An internal error or misconfiguration on the receiving server. */
export const systemErrorRules: Rule[] = [
  { reason: 'systemerror', pattern: /\b(?:internal|local|server|system) (?:server |system )?(?:error|failure|problem)|\bconfiguration error|\bincorrectly configured|\bmisconfigur|\bservice (?:is )?(?:currently )?(?:unavailable|not available)|\bserver (?:is )?(?:busy|too busy|unavailable)|\btemporarily (?:unavailable|out of service)|\bmail (?:for|to) .{1,80} loops back to myself|\bunable to (?:deliver|connect)\b.{0,40}(?:internal|system)/i, example: '554 5.3.0 <systemerror@libsisimai.net>: Recipient address rejected: Internal system error.' },
  { reason: 'systemerror', pattern: /\bmail server .{0,40} (?:is )?(?:down|not responding)|\bdirectory server failure|\bldap (?:error|failure|lookup failed)|\bsystem (?:not capable|error)|\bdatabase (?:error|failure)|\blocal error in processing|\berror processing|\bi\/o error|\bcannot (?:open|write|access) (?:mailbox|file)|\bcould not load \w{2,10} for domain/i, example: '451 4.3.0 Local error in processing' },
  // Exim's defer text for a local failure ("Temporary local problem - please try later").
  {
    reason: 'systemerror',
    pattern: /\btemporary local problem\b|\btemporary (?:server|system) (?:error|failure|problem)\b/i,
    example: '451 Temporary local problem - please try later',
    also: ['421 4.3.0 Temporary System Problem. Try again later'],
    counter: '451 Temporary lookup failure',
  },
  // The receiver could not store the message: Postfix cleanup(8) "queue file write error",
  // Exim "spool write error", Sendmail "Error writing control file".
  {
    reason: 'systemerror',
    pattern: /\bqueue file write error\b|\bspool (?:file )?write error\b|\berror writing (?:the )?(?:control|data|queue|spool) file\b/i,
    example: '451 4.3.0 Error: queue file write error',
    also: ['451 Temporary local problem: spool write error', '451 4.0.0 Error writing control file: No space left'],
    counter: '550 5.7.1 Message rejected: write access denied',
  },
];
