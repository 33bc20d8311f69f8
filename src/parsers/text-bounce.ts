import { cleanAddress, isDaemonAddress, isListRoleAddress } from './address.js';
import type { Finding } from './classify.js';
import { matchRule } from './rules/index.js';
import { isHelpText } from './fallback-recipient.js';
import { findCommand } from './smtp-command.js';
import { findReplyCode, findStatus } from './status-code.js';

/**
 * Generic reader for bounces written as free text (qmail, Exim, Sendmail without DSN,
 * provider notices, unknown MTAs). It finds "recipient lines" — lines whose shape says the
 * address on them failed — and reads each recipient's diagnostic from the lines after it.
 */
const A = "([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9_-]{1,63}(?:\\.[A-Za-z0-9_-]{1,63}){1,8})";

/** Shapes of a line that introduces one failed recipient. Each is anchored and linear. */
const RECIPIENT_LINE: Array<{ name: string; re: RegExp }> = [
  // Exim: "a@b <c@d>: malformed address: <c@d> may not follow a@b" — c@d is the refused one
  { name: 'text:exim-malformed', re: new RegExp(`^\\S{1,200} <${A}>: malformed address:`) },
  // "  kijitora@example.jp", "<kijitora@example.org>:", "\"a@b\":", "a@b on Thu, 29 Apr 2010"
  { name: 'text:address-line', re: new RegExp(`^[<"'(\\[]?${A}[>"')\\]]?(?:\\s*[:.,;]|\\.\\.\\.)?(?:\\s+on\\s.{0,80}|\\s+\\(.{0,200}\\))?$`) },
  // "<a@b>: host mx said: 550 ...", "<a@b>... User unknown", "a@b: 550 ..."
  { name: 'text:address-colon', re: new RegExp(`^<${A}>(?:\\s*:|\\.\\.\\.|\\s+\\()`) },
  { name: 'text:address-colon', re: new RegExp(`^${A}(?::\\s|\\s?\\.\\.\\.\\s?)`) },
  // "Recipient: <a@b>", "Failed recipient: a@b", "Unknown user: a@b", "Your message to: a@b"
  { name: 'text:labelled', re: new RegExp(`^(?:(?:final |original |failed |invalid |unknown )?recipient(?:\\(s\\))?(?: address)?|rcpt|unknown user|user unknown|your message to|address|to address|destinataire|empfänger|e-?mail address|addressee|bad address)\\s*:\\s*[<"]?${A}`, 'i') },
  // Sendmail transcripts: "550 <a@b>... User unknown", "554 5.0.0 <a@b>... Service unavailable"
  { name: 'text:reply-address', re: new RegExp(`^[245]\\d\\d[ -](?:[245]\\.\\d{1,3}\\.\\d{1,3} )?<${A}>\\.\\.\\.`) },
  // ">>> RCPT TO:<a@b>" in an SMTP transcript
  { name: 'text:rcpt-to', re: new RegExp(`^(?:>>>|-+>|out:|in:|sent:)?\\s*RCPT TO:\\s*<?${A}>?`, 'i') },
  // "There was an error delivering your mail to <a@b>.", "The following message to <a@b> was undeliverable."
  { name: 'text:sentence', re: new RegExp(`(?:deliver(?:ing|ed)?(?: (?:your|the) (?:mail|message|e-?mail))? to|message to|mail to|delivery to|delivered to|undeliverable to|forwarded to|transmitted to|could not reach|failed for|unable to deliver to|member of this (?:mailing )?list)\\s*:?\\s*<${A}>`, 'i') },
  // "a@b [User unknown]", "a@b Invalid Address, ERROR_CODE :550": address first, reason after
  { name: 'text:address-first', re: new RegExp(`^<?${A}>?\\s+[\\[(A-Za-z]`) },
];

/** Where a bounce quotes the remote server's reply. */
const REPLY_MARKER = /(?:the error that the other server returned was|remote (?:host|server) said|server message|server replied|said|reason(?: for the problem)?|because)\s*:/i;

/** Postfix's "Transcript of session follows" lines and Sendmail's <<< replies. */
const TRANSCRIPT = /^[ \t]*(?:Out:|In:|<<<|>>>)[ \t]/m;
/** The first 4xx/5xx reply line of a transcript, with its continuation lines. */
const TRANSCRIPT_ERROR = /^[ \t]*(?:Out:|<<<)[ \t]+([45]\d\d[ -][^\n]{0,500}(?:\n[ \t]*(?:Out:|<<<)[ \t]+[45]\d\d-[^\n]{0,500}){0,20})/m;

const MAX_TEXT = 1024 * 1024;
const MAX_BLOCK = 2048;

/** Reads failed recipients from free text; `exclude` holds the addresses of the report's own sender and receiver. */
export function scanTextBounce(fullText: string, exclude: Set<string>): Finding[] {
  const found = scanWith(fullText, exclude);
  // Some MTAs address the bounce to the failed recipient itself: try again trusting the text.
  const all = found.length || exclude.size === 0 ? found : scanWith(fullText, new Set());
  // A list manager's refusal names its own -request/-ctl address beside the member's: the member failed.
  const members = all.filter((f) => !isListRoleAddress(f.recipient ?? ''));
  return members.length ? members : all;
}

function scanWith(fullText: string, exclude: Set<string>): Finding[] {
  const text = fullText.length > MAX_TEXT ? fullText.slice(0, MAX_TEXT) : fullText;
  const lines = text.split('\n');
  const hits: Array<{ address: string; line: number; rule: string; matched: string }> = [];
  const seen = new Set<string>();
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    // Bounces forwarded by a person arrive quoted with "> ": read through the quoting.
    const line = lines[i].replace(/^(?:>[ \t]?)+/, '').trim();
    const before = previous;
    if (line) previous = line;
    if (line.indexOf('@') === -1 || line.length > 1000) continue;
    for (const { name, re } of RECIPIENT_LINE) {
      const m = re.exec(line);
      if (!m) continue;
      // "please contact" / "send commands to" and an address on a line of its own: whom to ask, not who failed.
      if ((name === 'text:address-line' || name === 'text:address-first') && isHelpText(line, before)) break;
      const address = cleanAddress(m[1]);
      const key = address.toLowerCase();
      if (exclude.has(key) || isDaemonAddress(address)) break;
      if (!seen.has(key)) {
        seen.add(key);
        hits.push({ address, line: i, rule: name, matched: line.slice(0, 200) });
      }
      break;
    }
  }
  const preamble = lines.slice(0, hits.length ? hits[0].line : 0).join('\n');
  return hits.map((hit, k) => {
    const end = k + 1 < hits.length ? hits[k + 1].line : lines.length;
    const block = lines.slice(hit.line, Math.min(end, hit.line + 40)).join('\n').slice(0, MAX_BLOCK);
    return findingFromBlock(hit.address, block, preamble, { rule: hit.rule, matched: hit.matched });
  });
}

/** Builds a finding from a recipient's text block; the preamble helps when the block names no reason. */
export function findingFromBlock(address: string | null, block: string, preamble: string, evidence: { rule: string; matched: string }): Finding {
  // A recipient found on its RCPT TO line of a session transcript ("In: RCPT TO:<a@b>", then
  // "Out: 451 4.3.0 ..."): the first error reply after it is the diagnostic, not the 250s around it.
  const transcriptError = evidence.rule === 'text:rcpt-to' && TRANSCRIPT.test(block) ? TRANSCRIPT_ERROR.exec(block) : null;
  const command = findCommand(squeeze(block));
  if (transcriptError) block = transcriptError[1];
  const whole = squeeze(block);
  // The remote server's own words beat the reporting MTA's boilerplate around them.
  const reply = REPLY_MARKER.exec(whole);
  let diagnostic = reply && matchRule(whole.slice(reply.index + reply[0].length)) ? whole.slice(reply.index + reply[0].length).trim() : whole;
  if (!/^[45]/.test(findStatus(diagnostic) || findReplyCode(diagnostic)) && !matchRule(diagnostic)) {
    diagnostic = squeeze(`${preamble.slice(-MAX_BLOCK)}\n${block}`);
  }
  const remote = /\bhost:?\s+([A-Za-z0-9][A-Za-z0-9.-]{1,253})\s*[[(]/.exec(diagnostic) ?? /remote host ([0-9.]{7,15}|[A-Za-z0-9.-]{3,253})/.exec(diagnostic);
  return {
    recipient: address,
    action: /\b(?:delayed|has not yet been delivered|will be retried|warning message only)\b/i.test(diagnostic) ? 'delayed' : 'failed',
    status: '',
    replycode: '',
    diagnostic,
    diagnosticType: '',
    remoteMta: remote ? remote[1] : '',
    command,
    evidence: [evidence],
  };
}

/** Collapses the whitespace of a multi-line reply into one line. */
function squeeze(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** A reply or status code of a failure: "550", "5.1.1", "4.2.2" as an MTA writes them. */
const FAILURE_CODE = /(?:^|[\s(:;])(?:[45]\d\d[ -](?:[45]\.\d{1,3}\.\d{1,3}\b)?|[45]\.\d{1,3}\.\d{1,3}\b|#[45]\.\d\.\d)/;
/** Words of a delivery failure on a one-line warning. */
const FAILURE_WORDS = /\b(?:fail(?:ed|ure)|undeliver(?:able|ed)|(?:could|can) ?not (?:be )?deliver(?:ed)?|not delivered|rejected|refused|bounced?|(?:user|mailbox|recipient|address) (?:unknown|not found|unavailable|invalid|does not exist)|unknown (?:user|recipient)|invalid (?:recipient|address|mailbox)|no such (?:user|mailbox|recipient)|does not exist|over quota|mailbox (?:is )?full)\b/i;
const LINE_ADDRESS = new RegExp(A);

/**
 * The line of a one-line plain-text warning (some appliances and scripts report a failure in one
 * line, with no bounce From or Subject), e.g. "Delivery to kijitora@example.jp failed: 550 5.1.1
 * mailbox unavailable". Only a short text counts, and never a quoted one (a person forwarding).
 */
export function oneLineFailure(text: string): string | null {
  const lines = text.split('\n', 12).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0 || lines.length > 3 || text.length > 2000) return null;
  for (const line of lines) {
    if (line.startsWith('>') || line.length > 600 || !LINE_ADDRESS.test(line)) continue;
    if (FAILURE_WORDS.test(line) && (FAILURE_CODE.test(line) || /\b(?:deliver|recipient|mailbox|address)/i.test(line))) return line;
  }
  return null;
}
