import type { Rule } from './rule.js';

/** The message is larger than the server's maximum size. */
export const mesgTooBigRules: Rule[] = [
  { reason: 'mesgtoobig', pattern: /\bline limit exceeded|\bmessage (?:is )?too (?:big|large)|\bmessage size (?:exceeds|exceeded|too|is larger|limit)|\b(?:exceeds|exceeded) (?:the )?(?:maximum|max|fixed|size) (?:message )?size|\bmail size limit|\bsize limit exceeded|\bmessage (?:length|file) (?:exceeds|too)|\btoo big for (?:the )?system|\bmessage exceeds .{0,30}size|\bemail (?:is )?too large|\bsize (?:exceeds|exceeded)/i, example: 'Mail size limit exceeded. For explanation visit http://postmaster.1and1.com/en/error-messages' },
  // "larger than the maximum" as Exchange and Courier word a size refusal.
  {
    reason: 'mesgtoobig',
    pattern: /\b(?:message|mail|e-?mail) (?:is )?(?:larger|bigger) than (?:the )?(?:maximum|max|allowed|permitted|fixed)/i,
    example: '552 Message is larger than the maximum size allowed by the server',
    also: ['552 5.3.4 Mail is bigger than the allowed size'],
    counter: '552 5.2.2 Mailbox is larger than its quota',
  },
];
