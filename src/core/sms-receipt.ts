/**
 * SMPP delivery receipts: the de-facto text format of SMPP 3.4 Appendix B
 * (`id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`) and what each final
 * state means for the message.
 */

export interface ReceiptText {
  id: string;
  sub: string | null;
  dlvrd: string | null;
  submitDate: string | null;
  doneDate: string | null;
  /** Upper-cased: DELIVRD, UNDELIV, REJECTD, EXPIRED, DELETED, UNKNOWN, ACCEPTD, ENROUTE… */
  stat: string;
  err: string | null;
  text: string | null;
}

const FIELD = /(id|sub|dlvrd|submit date|done date|stat|err|text):/gi;

/**
 * Reads a receipt's text; null when it has no `id:` or no `stat:` (an ordinary inbound SMS).
 * Field names are matched case-insensitively and in any order; `text:` runs to the end.
 *
 * @example parseReceiptText('id:1000001 sub:001 dlvrd:001 submit date:2612041310 done date:2612041310 stat:DELIVRD err:000 text:Hi')
 *   → { id: '1000001', stat: 'DELIVRD', err: '000', text: 'Hi', ... }
 */
export function parseReceiptText(input: string): ReceiptText | null {
  const s = input.slice(0, 2000);
  const marks: Array<{ key: string; start: number; end: number }> = [];
  for (const m of s.matchAll(FIELD)) {
    const at = m.index ?? 0;
    // A field name starts the text or follows a space, so `text:` inside the snippet is not one.
    if (at > 0 && !/\s/.test(s[at - 1])) continue;
    if (marks.some((k) => k.key === 'text')) break;
    marks.push({ key: m[1].toLowerCase(), start: at, end: at + m[0].length });
  }
  const fields = new Map<string, string>();
  marks.forEach((k, i) => {
    const stop = i + 1 < marks.length ? marks[i + 1].start : s.length;
    const raw = s.slice(k.end, stop);
    if (!fields.has(k.key)) fields.set(k.key, k.key === 'text' ? raw : raw.trim());
  });
  const id = fields.get('id');
  const stat = fields.get('stat');
  if (!id || !stat) return null;
  return {
    id,
    sub: fields.get('sub') ?? null,
    dlvrd: fields.get('dlvrd') ?? null,
    submitDate: fields.get('submit date') ?? null,
    doneDate: fields.get('done date') ?? null,
    stat: stat.toUpperCase(),
    err: fields.get('err') ?? null,
    text: fields.get('text') ?? null,
  };
}

/** SMPP 3.4 message_state (5.3.2.35) → the stat word of a receipt. */
export const MESSAGE_STATES: Record<number, string> = {
  1: 'ENROUTE', 2: 'DELIVRD', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIV', 6: 'ACCEPTD', 7: 'UNKNOWN', 8: 'REJECTD',
};

/**
 * `err:` codes that say the number does not exist. SMSCs pass the GSM MAP error (3GPP TS 29.002)
 * there: 1 unknown subscriber, 5 unidentified subscriber, 9 illegal subscriber. Anything else
 * (absent, busy, barred, system failure) may pass and is soft.
 */
const HARD_ERR = new Map<number, string>([
  [1, 'unknown subscriber'],
  [5, 'unidentified subscriber'],
  [9, 'illegal subscriber'],
]);

export type ReceiptOutcome =
  | { final: false; stat: string }
  | { final: true; type: 'delivered'; stat: string }
  | { final: true; type: 'bounced'; stat: string; bounce_class: 'hard' | 'soft'; reason: string; evidence: Array<{ rule: string; matched: string }> };

/**
 * What a receipt's state means: DELIVRD delivered; UNDELIV/REJECTD/UNKNOWN/DELETED bounced
 * (hard only when `err` names a subscriber that does not exist); EXPIRED bounced, soft, expired;
 * ACCEPTD/ENROUTE and unknown words nothing final.
 *
 * @example receiptOutcome('UNDELIV', '001') → { final: true, type: 'bounced', bounce_class: 'hard', reason: 'userunknown', ... }
 */
export function receiptOutcome(stat: string, err: string | null): ReceiptOutcome {
  const s = stat.trim().toUpperCase();
  if (s === 'DELIVRD') return { final: true, type: 'delivered', stat: s };
  if (s === 'EXPIRED') {
    return { final: true, type: 'bounced', stat: s, bounce_class: 'soft', reason: 'expired', evidence: [{ rule: 'sms:stat', matched: `stat:${s}` }] };
  }
  if (s === 'UNDELIV' || s === 'REJECTD' || s === 'UNKNOWN' || s === 'DELETED') {
    const code = err !== null && /^\d+$/.test(err.trim()) ? Number.parseInt(err.trim(), 10) : null;
    const hard = code !== null ? HARD_ERR.get(code) : undefined;
    const evidence = [{ rule: 'sms:stat', matched: `stat:${s}` }];
    if (hard) {
      return { final: true, type: 'bounced', stat: s, bounce_class: 'hard', reason: 'userunknown', evidence: [...evidence, { rule: 'sms:err', matched: `err:${err} (${hard})` }] };
    }
    return { final: true, type: 'bounced', stat: s, bounce_class: 'soft', reason: s === 'REJECTD' ? 'rejected' : 'undefined', evidence: err ? [...evidence, { rule: 'sms:err', matched: `err:${err}` }] : evidence };
  }
  return { final: false, stat: s };
}
