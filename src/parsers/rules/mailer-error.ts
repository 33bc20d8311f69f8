import type { Rule } from './rule.js';

/** The local delivery program (pipe, procmail, ...) failed. */
export const mailerErrorRules: Rule[] = [
  { reason: 'mailererror', pattern: /\bpipe to \|\S|\bmailer error|\bcommand (?:died|failed|output)|\bexit (?:code|status) \d|\bprocmail\b|\bpipe to |\bunknown mailer|\bx-unix;|\bcommand not found|\bcannot execute|\bpermission denied\b.{0,40}(?:pipe|command|exec)|\bsh: |\bdelivery program/i, example: '554 5.3.0 <mailererror@libsisimai.net>: Recipient address rejected: Mailer error.' },
];
