import { describe, expect, it } from 'vitest';
import { score, toCrlf } from '../../bench/parse-metrics.js';
import { corpusLabels } from '../support/shared.js';
import { parse } from '../../src/parsers/index.js';
import type { Report } from '../../src/parsers/report.js';
import { corpusFile } from '../support/shared.js';
import { KNOWN_MISSES } from './known-misses.js';

const labels = corpusLabels();
const reachable = labels.filter((l) => !KNOWN_MISSES.has(l.file));

/**
 * Floors under the corpus metrics: a change that lowers any of them fails CI. The project's
 * targets (README "## Parser") are higher; raise these floors as accuracy improves.
 */
const FLOORS = { f1: 0.99, reason: 0.925, bounceClass: 0.97, kind: 0.99 };

describe('corpus, per file', () => {
  it.each(reachable.map((l) => [l.file, l] as const))('%s', (_file, label) => {
    const r = parse(corpusFile(label.file));
    expect(r.kind).toBe(label.kind);
    const got = r.recipients.map((x) => [x.recipient?.toLowerCase() ?? null, x.reason]);
    const want = label.recipients.map((x) => [x.recipient?.toLowerCase() ?? null, x.reason]);
    if (label.recipients.length === 1 && label.recipients[0].recipient === null) want[0][0] = got[0]?.[0] ?? null;
    expect(got).toEqual(want);
  });
});

describe('corpus, aggregate', () => {
  for (const [name, convert] of [['as-is', (b: Buffer) => b], ['crlf', toCrlf]] as const) {
    it(`meets the metric floors (${name})`, () => {
      const results = new Map<string, Report>(labels.map((l) => [l.file, parse(convert(corpusFile(l.file)))]));
      const s = score(labels, results);
      expect(s.recipients.f1).toBeGreaterThanOrEqual(FLOORS.f1);
      expect(s.reason).toBeGreaterThanOrEqual(FLOORS.reason);
      expect(s.bounceClass).toBeGreaterThanOrEqual(FLOORS.bounceClass);
      expect(s.kind).toBeGreaterThanOrEqual(FLOORS.kind);
      expect(s.arf.precision).toBe(1);
      expect(s.arf.recall).toBe(1);
    });
  }

  it('never reports an auto-reply or a complaint as a bounce', () => {
    for (const l of labels.filter((x) => x.kind === 'auto-reply' || x.kind === 'feedback-report')) {
      const r = parse(corpusFile(l.file));
      expect(r.recipients.every((x) => x.bounce_class !== 'hard'), l.file).toBe(true);
    }
  });
});
