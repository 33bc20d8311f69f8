import type { Rule } from './rule.js';

/** The envelope sender (MAIL FROM address or its domain) was refused. */
export const rejectedRules: Rule[] = [
  { reason: 'rejected', pattern: /\bsender (?:address |domain |email )?(?:rejected|refused|denied|not allowed|is not allowed|blocked|verify failed|verification failed|unknown|invalid)|\b(?:sender|from) address (?:is )?(?:rejected|invalid|not valid|unknown|denied)/i, example: '550 5.7.1 <sironeko@example.jp>: Sender address rejected: Access denied' },
  { reason: 'rejected', pattern: /\bdomain of sender address .{1,100} does not (?:exist|resolve)|\bsender domain (?:must|does not|not) (?:exist|resolve)|\bbad sender'?s? (?:mailbox|system|address)|\binvalid sender|\bunknown sender|\bsender is (?:not|in)|\bcannot resolve (?:your )?(?:sender|return)/i, example: '553 5.1.8 <kijitora@example.jp>... Domain of sender address nyaan@example.org does not exist' },
  { reason: 'rejected', pattern: /\bnot a member of this (?:mailing )?list|\byou are not (?:a member|allowed to post|subscribed)|\bmay not have permission to post|permission to post messages to the group|\bonly members can post|\bposting (?:is )?(?:restricted|not allowed)|\bmailing list .{0,40}(?:rejected|members only)/i, example: 'You are not a member of this mailing list <neko-nyaan@example.org>.' },
  { reason: 'rejected', pattern: /\b(?:your|the) (?:e-?mail )?address (?:has been|is) (?:blacklisted|blocked|banned|rejected)|\bemail address is on (?:a|our) (?:block|black)list|\bempty envelope senders?|\bmail from (?:address )?(?:rejected|refused)|\breturn[- ]path (?:address )?(?:rejected|invalid)/i, example: '550 Your email address has been blacklisted.' },
  { reason: 'rejected', pattern: /グループ.{0,40}存在しないか|no such domain .{0,80}(?:mail from|sender)|\bsender (?:mailbox|domain) (?:does not exist|not found|unknown)/i, example: 'Google Groups: the group you tried to contact may not exist, or you may not have permission to post' },
];
