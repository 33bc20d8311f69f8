import type { Report } from '../src/parsers/report.js';
import type { CorpusLabel } from '../test/support/shared.js';

/** Where one file's result differs from its label. */
export interface Miss {
  file: string;
  what: 'recipient-missing' | 'recipient-extra' | 'reason' | 'bounce_class' | 'status' | 'kind' | 'feedback_type';
  expected: string;
  got: string;
  detail: string;
}

export interface Scores {
  files: number;
  recipients: { expected: number; predicted: number; matched: number; precision: number; recall: number; f1: number };
  reason: number;
  bounceClass: number;
  status: number;
  kind: number;
  arf: { precision: number; recall: number; feedbackType: number };
  /** expected reason → predicted reason → count, over labelled recipients (missing = "(none)"). */
  confusion: Map<string, Map<string, number>>;
  misses: Miss[];
}

const key = (a: string | null): string => (a === null ? '(undisclosed)' : a.toLowerCase());

/** Scores parser results against labels with the corpus README's metrics. */
export function score(labels: CorpusLabel[], results: Map<string, Report>): Scores {
  let expected = 0, predicted = 0, matched = 0, reasonOk = 0, classOk = 0, statusOk = 0, kindOk = 0;
  let arfTp = 0, arfFp = 0, arfFn = 0, ftOk = 0, ftN = 0;
  const confusion = new Map<string, Map<string, number>>();
  const misses: Miss[] = [];
  const bump = (e: string, g: string): void => {
    const row = confusion.get(e) ?? new Map<string, number>();
    row.set(g, (row.get(g) ?? 0) + 1);
    confusion.set(e, row);
  };
  for (const label of labels) {
    const r = results.get(label.file);
    const got = r?.recipients ?? [];
    const kind = r?.kind ?? 'unknown';
    if (kind === label.kind) kindOk++;
    else misses.push({ file: label.file, what: 'kind', expected: label.kind, got: kind, detail: r?.error ?? '' });
    const isArf = kind === 'feedback-report';
    if (label.is_arf && isArf) arfTp++;
    else if (isArf) arfFp++;
    else if (label.is_arf) arfFn++;

    const pool = new Map<string, Report['recipients'][number]>();
    for (const g of got) if (!pool.has(key(g.recipient))) pool.set(key(g.recipient), g);
    // An undisclosed recipient matches whatever single recipient the parser reported.
    const undisclosedOnly = label.recipients.length === 1 && label.recipients[0].recipient === null && got.length === 1;
    predicted += pool.size;
    const used = new Set<string>();
    for (const e of label.recipients) {
      expected++;
      const k = undisclosedOnly ? key(got[0].recipient) : key(e.recipient);
      const g = pool.get(k);
      if (!g) {
        bump(e.reason, '(none)');
        misses.push({ file: label.file, what: 'recipient-missing', expected: String(e.recipient), got: got.map((x) => x.recipient).join(',') || '(none)', detail: '' });
        continue;
      }
      used.add(k);
      matched++;
      bump(e.reason, g.reason);
      const detail = `${g.diagnostic.slice(0, 160)} | ${g.evidence.map((x) => x.rule).join(',')}`;
      if (g.reason === e.reason) reasonOk++;
      else misses.push({ file: label.file, what: 'reason', expected: e.reason, got: g.reason, detail });
      if (g.bounce_class === e.bounce_class) classOk++;
      else misses.push({ file: label.file, what: 'bounce_class', expected: e.bounce_class, got: g.bounce_class, detail: `${e.reason}→${g.reason}` });
      const statusMatch = e.status_is_sisimai_pseudo ? g.status.slice(0, 1) === e.status.slice(0, 1) : g.status === e.status;
      if (statusMatch) statusOk++;
      else misses.push({ file: label.file, what: 'status', expected: e.status, got: g.status, detail });
      if (e.feedback_type) {
        ftN++;
        if (g.feedback_type === e.feedback_type) ftOk++;
        else misses.push({ file: label.file, what: 'feedback_type', expected: e.feedback_type, got: g.feedback_type, detail: '' });
      }
    }
    for (const [k, g] of pool) {
      if (!used.has(k)) misses.push({ file: label.file, what: 'recipient-extra', expected: label.recipients.map((x) => x.recipient).join(',') || '(none)', got: String(g.recipient), detail: g.evidence[0]?.rule ?? '' });
    }
  }
  const precision = predicted ? matched / predicted : 1;
  const recall = expected ? matched / expected : 1;
  return {
    files: labels.length,
    recipients: { expected, predicted, matched, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 },
    reason: reasonOk / expected,
    bounceClass: classOk / expected,
    status: statusOk / expected,
    kind: kindOk / labels.length,
    arf: { precision: arfTp + arfFp ? arfTp / (arfTp + arfFp) : 1, recall: arfTp + arfFn ? arfTp / (arfTp + arfFn) : 1, feedbackType: ftN ? ftOk / ftN : 1 },
    confusion,
    misses,
  };
}

/** Converts bare LF line ends to CRLF, as real SMTP input has them. */
export function toCrlf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}
