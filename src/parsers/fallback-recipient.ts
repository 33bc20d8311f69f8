import { allAddresses, cleanAddress, firstAddress, isDaemonAddress, isListRoleAddress } from './address.js';
import type { MessageView } from './message-view.js';
import { first } from './mime.js';

/**
 * Who the failed recipient is NOT, and who it is when a bounce names it in no structured place.
 * A wrong guess here suppresses a valid address (the sender's own, a list's), so every guess
 * skips the sender side, mailing-list addresses and the addresses of help text.
 */

const A = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9_-]{1,63}(?:\\.[A-Za-z0-9_-]{1,63}){1,8}";
/** "MAIL FROM:<a@b>" of a transcript (Postfix folds it as "MAIL\n     FROM:<a@b>"). */
const MAIL_FROM = new RegExp(`\\bMAIL\\s{1,40}FROM:\\s{0,5}<(${A})>`, 'gi');
/** "Received: ... for <a@b>": in the report's own headers, that is whoever receives the report. */
const RECEIVED_FOR = new RegExp(`\\bfor\\s{1,5}<(${A})>`, 'gi');

/**
 * The address the sender used, where a report names it outside the DSN fields:
 * Original-Recipient written inline, Postfix/Sendmail "(expanded from <a@b>)", ORCPT in a
 * transcript, and Postfix's X-Original-To in the returned headers.
 */
const SENDER_USED: Array<{ rule: string; re: RegExp }> = [
  { rule: 'text:original-recipient', re: new RegExp(`^[ \\t>]*Original-Recipient:[ \\t]*(?:rfc822;)?[ \\t]*<?(${A})`, 'im') },
  { rule: 'text:expanded-from', re: new RegExp(`\\(expanded from:?\\s{0,5}<(${A})>\\)`, 'i') },
  { rule: 'text:orcpt', re: new RegExp(`\\bORCPT=rfc822;(${A})`, 'i') },
];

/**
 * Lines of help and boilerplate: addresses on them are whom to ask, not who failed.
 * e.g. "If you have questions, please contact postmaster@example.net", "To unsubscribe, write to x-request@..."
 */
const HELP_LINE = /\b(?:contact|questions?|assistance|help ?desk|support (?:team|desk|staff)|(?:system|mail|your) administrator|for (?:more )?(?:help|information|details)|please (?:write|send|e-?mail|forward|reply|report)|send (?:an? )?(?:e-?mail|mail|message|note|report) to|report (?:this|it|abuse)|(?:un)?subscribe|list (?:owner|admin|help)|mailing list|mailto:|reply to this)\b/i;

/** True when a line, or the unfinished sentence on the line before it, asks the reader to write somewhere. */
export function isHelpText(line: string, previous: string): boolean {
  return HELP_LINE.test(line) || (HELP_LINE.test(previous) && !/[.!?]\s*$/.test(previous));
}

/** Addresses of the report's sender side: its own From/To/Reply-To and receivers, the original's sender, list addresses. */
export function senderSide(view: MessageView): Set<string> {
  const h = view.root.headers;
  const out = new Set<string>();
  const add = (v: string): void => {
    for (const a of allAddresses(v)) out.add(a.toLowerCase());
  };
  for (const name of ['to', 'from', 'reply-to', 'delivered-to', 'x-original-to', 'envelope-to']) for (const v of h.get(name) ?? []) add(v);
  for (const v of (h.get('received') ?? []).slice(0, 50)) for (const m of v.matchAll(RECEIVED_FOR)) out.add(cleanAddress(m[1]).toLowerCase());
  if (view.original) {
    for (const name of ['from', 'sender', 'reply-to', 'return-path', 'errors-to']) {
      const a = firstAddress(first(view.original, name));
      if (a) out.add(a.toLowerCase());
    }
  }
  for (const a of listAddresses(view)) out.add(a);
  for (const m of view.text.slice(0, 65536).matchAll(MAIL_FROM)) out.add(cleanAddress(m[1]).toLowerCase());
  return out;
}

/** Mailing-list addresses named by the List-* headers (RFC 2369) of the report or of the original. */
function listAddresses(view: MessageView): string[] {
  const out: string[] = [];
  for (const h of [view.root.headers, view.original]) {
    if (!h) continue;
    for (const name of ['list-post', 'list-help', 'list-owner', 'list-unsubscribe', 'list-subscribe']) {
      for (const v of h.get(name) ?? []) for (const a of allAddresses(v)) out.push(a.toLowerCase());
    }
  }
  return out;
}

/** The one recipient of a bounce that names none in a structured place, or null. */
export function fallbackRecipient(view: MessageView, exclude: Set<string>): { address: string; rule: string; matched: string } | null {
  const usable = (a: string): boolean => !exclude.has(a.toLowerCase()) && !isDaemonAddress(a) && !isListRoleAddress(a);
  const text = view.text.slice(0, 65536);
  for (const { rule, re } of SENDER_USED) {
    const m = re.exec(text);
    if (m && usable(m[1])) return { address: cleanAddress(m[1]), rule, matched: m[0].trim().slice(0, 200) };
  }
  const xOriginalTo = view.original ? firstAddress(first(view.original, 'x-original-to')) : '';
  if (xOriginalTo && usable(xOriginalTo)) return { address: xOriginalTo, rule: 'original:x-original-to', matched: xOriginalTo };
  const loose = looseAddresses(text, exclude).find(usable);
  if (loose) return { address: loose, rule: 'text:fallback-recipient', matched: loose };
  const to = view.original ? firstAddress(first(view.original, 'to')) : '';
  if (to && usable(to)) return { address: to, rule: 'original:to', matched: to };
  return null;
}

/** Addresses of a text, in order, that are neither excluded, a daemon's, nor on a help line. */
export function looseAddresses(text: string, exclude: Set<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let previous = '';
  for (const line of text.split('\n', 5000)) {
    if (line.indexOf('@') !== -1 && !isHelpText(line, previous)) {
      for (const a of allAddresses(line)) {
        const key = a.toLowerCase();
        if (!exclude.has(key) && !isDaemonAddress(a) && !seen.has(key)) {
          seen.add(key);
          out.push(a);
        }
      }
    }
    if (line.trim()) previous = line;
  }
  return out;
}
