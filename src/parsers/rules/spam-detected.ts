import type { Rule } from './rule.js';

/** The content was judged to be spam. */
export const spamDetectedRules: Rule[] = [
  { reason: 'spamdetected', pattern: /\breject, id=\S{1,40} - spam\b|\bspam (?:detected|message|content|score|filter|rejected|not accepted|suspected|mail)|\b(?:detected|identified|classified|considered|flagged|marked|tagged|rejected) as (?:\w+ )?spam|\blooks? like spam|\bsuspected spam|\bscored as spam|\bspam classification|\bspamassassin|\bis spam\b|\bseems to be spam|\blikely (?:to be )?(?:unsolicited|spam)/i, example: '550 5.7.0 <spamdetected@libsisimai.net>: Recipient address rejected: Spam detected.' },
  { reason: 'spamdetected', pattern: /\bunsolicited (?:bulk |commercial )?(?:e-?mail|mail|message)|\bcontent rejected|\bmessage content (?:rejected|refused)|\bube\b|\bbulk e-?mail|\bspam firewall|\bspam policy|\bjunk mail|\bspam-?like|\bscore of \S{1,10} exceeds|\bhigh probability of (?:being )?spam|\bspamd?\b.{0,20}(?:reject|threshold|blocked)|\bblocked by (?:our )?(?:\S+ )?spam/i, example: '550 5.7.1 Message content rejected, UBE, id=00000-22-225' },
  { reason: 'spamdetected', pattern: /\bmail rejete\. mail rejected\. ofr_506|\bmessage (?:was |has been )?(?:rejected|blocked|refused) (?:by|due to) (?:our )?(?:content|anti-?spam|spam)|\banti-?spam\b|\bsuspicious (?:content|message|url|link)|\bphishing\b|迷惑メール|спам/i, example: '550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]' },
  // Content verdicts in other receivers' words: Yandex ("under suspicion of SPAM"), Exim ACLs with
  // SpamAssassin ("appears to be spam"), Microsoft ("content identified as spam"), rspamd.
  {
    reason: 'spamdetected',
    pattern: /\bsuspicion of spam\b|\bappears? to be (?:spam|unsolicited|bulk)\b|\bcontent (?:was )?identified as spam|\bspam (?:verdict|threshold|check(?:s)? failed)|\b(?:reported|rated|judged|recogni[sz]ed|determined) (?:as|to be) (?:spam|junk)\b|\bjunk (?:e-?mail|message)s?\b/i,
    example: '554 5.7.1 Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1652345678-abcdEF',
    also: ['550 Rejected: this message appears to be spam', '550 5.7.520 Message blocked because it contains content identified as spam'],
    counter: '550 5.7.1 Sender is not allowed to send spam reports to this address',
  },
];
