import { first, parseEntity, parseHeaders, partText, toBinaryString, transferDecoded } from './mime.js';
import type { MimePart } from './mime.js';

/** The pieces of one inbound message that the layouts look at, decoded once. */
export interface MessageView {
  root: MimePart;
  /** Human-readable notification text (not the returned message), decoded, LF line ends. */
  text: string;
  /** Bodies of message/delivery-status and message/global-delivery-status parts. */
  dsn: string[];
  /** Body of the message/feedback-report part, if any. */
  feedback: string;
  /** Headers of the returned original message, when it came back. */
  original: Map<string, string[]> | null;
  /** The returned original's raw header block, for layouts that search it. */
  originalBlock: string;
  /** The returned message as a parsed part, when it came back as message/rfc822. */
  originalPart: MimePart | null;
}

/**
 * Lines that start the returned copy of the original message in text-only bounces. Each is
 * tried on one line at a time (no /m flag, anchored, no `\s` that could run across lines), and
 * no quantifier is followed by another that can match the same characters: a run of dashes or
 * of blank lines costs linear time, never a backtracking search per position.
 */
const ORIGINAL_MARKERS: RegExp[] = [
  /^-{2,} ?(?:This is a copy of|Original message|Below this line is a copy|The (?:original|header of the original) message|Original mail|Undelivered message|Message header follows|Returned message|Unsent message)/i,
  /^ *-{3,} ?(?:original message|headers of your message|end of (?:report|message)|message header)/i,
  /^(?:Message headers follow|Original message headers:|Your message reads \(in part\)|[ \t]*Original message follows|[ \t]*Unsent Message below:|Below is a copy of the original message:|[ \t]*-+Message Header-+)/i,
  /^(?:Content-Type: (?:message\/rfc822|text\/rfc822-headers))/i,
  /^-+ ?(?:The )?(?:Original|Returned|Message) ?(?:headers|Message|mail|content)? (?:follows?|below)/i,
];
/** "----- Below this line, the message follows": dashes, then the words anywhere after them. */
const DASHES = /^ *-{3}/;
const MESSAGE_FOLLOWS = ' message follows';
/** Marker lines are short; a longer line is judged by its start. */
const MAX_MARKER_LINE = 256;

/** Headers that show a line block is a mail header rather than prose. */
const HEADER_HINT = /^(?:Received|Return-Path|Message-Id|From|To|Subject|Date|X-Mailtrail-Id|MIME-Version|Content-Type|DKIM-Signature|Delivered-To|X-[\w-]+):/im;

/** Decodes the message and picks out text, report parts and the returned original. */
export function buildView(raw: Buffer | Uint8Array | string): MessageView {
  return viewOf(parseEntity(toBinaryString(raw)));
}

/** The view of an already parsed entity, e.g. a bounce forwarded inside another message. */
export function viewOf(root: MimePart): MessageView {
  const texts: string[] = [];
  const dsn: string[] = [];
  let feedback = '';
  // Held in an object because the visitor closure assigns them (TS cannot track that).
  const found: { original: MimePart | null; headers: string | null } = { original: null, headers: null };

  const visit = (p: MimePart, inOriginal: boolean): void => {
    const t = p.type;
    if (t === 'message/rfc822' || t === 'message/global' || t === 'message/partial') {
      if (!found.original && !inOriginal && p.parts[0]) found.original = p.parts[0];
      return;
    }
    if (t === 'text/rfc822-headers' || t === 'message/rfc822-headers' || t === 'text/rfc822-header') {
      if (!inOriginal && found.headers === null) found.headers = transferDecoded(p);
      return;
    }
    if (t === 'message/delivery-status' || t === 'message/global-delivery-status') {
      dsn.push(partText(p));
      return;
    }
    if (t === 'message/feedback-report') {
      feedback = partText(p);
      return;
    }
    if (p.parts.length) {
      for (const c of p.parts) visit(c, inOriginal);
      return;
    }
    if (inOriginal) return;
    if (t === 'text/plain' || t === 'text/html' || t === 'text/enriched' || (p === root && t.startsWith('text/'))) {
      if (first(p.headers, 'content-disposition').toLowerCase().startsWith('attachment') && t !== 'text/plain') return;
      const s = partText(p);
      texts.push(t === 'text/html' ? htmlToText(s) : s);
    } else if (p === root || t === 'application/octet-stream' && !p.params.get('name')) {
      texts.push(partText(p));
    }
  };
  visit(root, false);

  let text = texts.join('\n');
  let originalBlock = '';
  let originalMap: Map<string, string[]> | null = null;
  if (found.original) {
    originalMap = found.original.headers;
  } else if (found.headers !== null) {
    originalBlock = found.headers;
    originalMap = parseHeaders(found.headers.split('\n\n', 1)[0]);
  }
  // Text-only bounces carry the original inline after a marker line.
  const cut = findOriginalMarker(text);
  if (cut !== -1) {
    const rest = text.slice(cut);
    text = text.slice(0, cut);
    if (!originalMap) {
      const at = rest.search(HEADER_HINT);
      if (at !== -1) {
        originalBlock = rest.slice(at);
        const end = originalBlock.indexOf('\n\n');
        originalMap = parseHeaders(end === -1 ? originalBlock : originalBlock.slice(0, end));
      }
    }
  }
  return { root, text, dsn, feedback, original: originalMap, originalBlock, originalPart: found.original };
}

/** Offset of the first line that starts the returned original, or -1. */
function findOriginalMarker(text: string): number {
  for (let pos = 0; pos < text.length; ) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    if (end - pos >= 3 && isOriginalMarker(text.slice(pos, Math.min(end, pos + MAX_MARKER_LINE)))) return pos;
    pos = end + 1;
  }
  return -1;
}

function isOriginalMarker(line: string): boolean {
  for (const re of ORIGINAL_MARKERS) if (re.test(line)) return true;
  const dashes = DASHES.exec(line);
  return dashes !== null && line.toLowerCase().indexOf(MESSAGE_FOLLOWS, dashes[0].length) !== -1;
}

/** Tags that become line breaks in the text. */
const LINE_BREAK_TAG = /^(?:br\s*\/?|\/(?:p|div|tr|li|h\d))$/i;
/** Style and script blocks hold no text for a reader. */
const HIDDEN_BLOCK = /^(?:style|script)/i;
const HIDDEN_END = /^<\/(?:style|script)>/i;
/** Longer "tags" are kept as text, as a stray "<" in prose is. */
const MAX_TAG = 2000;

/**
 * Crude HTML → text, enough for provider bounces sent as HTML only. A single forward scan: each
 * "<" looks up the next ">" once (remembered for the "<"s before it), so unclosed tags and runs
 * of "<" cost linear time.
 */
function htmlToText(html: string): string {
  const out: string[] = [];
  let pos = 0;
  let gt = -2; // next ">" at or after the current "<"; -2: not looked up yet, -1: none left
  while (pos < html.length) {
    const lt = html.indexOf('<', pos);
    if (lt === -1) break;
    if (gt !== -1 && gt < lt) gt = html.indexOf('>', lt + 1);
    if (gt === -1) break;
    if (gt - lt - 1 > MAX_TAG) {
      out.push(html.slice(pos, lt + 1));
      pos = lt + 1;
      continue;
    }
    out.push(html.slice(pos, lt));
    const tag = html.slice(lt + 1, gt);
    pos = gt + 1;
    if (LINE_BREAK_TAG.test(tag)) {
      out.push('\n');
    } else if (HIDDEN_BLOCK.test(tag)) {
      // Only a block with no other tag inside is dropped whole, up to its closing tag.
      const next = html.indexOf('<', pos);
      if (next !== -1 && HIDDEN_END.test(html.slice(next, next + 10))) {
        pos = html.indexOf('>', next) + 1;
      }
    }
  }
  out.push(html.slice(pos));
  return out
    .join('')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}
