import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from '../../src/parsers/index.js';
import { corpusFile, corpusFiles } from '../support/shared.js';

const files = corpusFiles();
const sample = (i: number): Buffer => corpusFile(files[i % files.length]);

/**
 * Parses and checks the two promises every input gets: a Report back, and fast. An input over
 * budget is timed twice more and judged by its best run: a slow input is slow every time, while
 * a GC pause or a busy CI core is not the parser's doing.
 */
function parsesQuickly(input: Buffer | string, budgetMs = 100): void {
  let best = Infinity;
  for (let attempt = 0; attempt < 3 && best >= budgetMs; attempt++) {
    const t = performance.now();
    const r = parse(input);
    best = Math.min(best, performance.now() - t);
    expect(typeof r.kind).toBe('string');
    expect(Array.isArray(r.recipients)).toBe(true);
  }
  expect(best).toBeLessThan(budgetMs);
}

describe('parser robustness', () => {
  it('survives truncation at any point', () => {
    fc.assert(fc.property(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), (i, cut) => {
      const buf = sample(i);
      parsesQuickly(buf.subarray(0, Math.floor(buf.length * cut)));
    }), { numRuns: 300 });
  });

  it('survives bit flips and byte garbage', () => {
    fc.assert(fc.property(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), (i, flips) => {
      const buf = Buffer.from(sample(i));
      for (const [pos, byte] of flips) buf[pos % buf.length] = byte;
      parsesQuickly(buf);
    }), { numRuns: 300 });
  });

  it('survives arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 5000 }), (s) => parsesQuickly(s)), { numRuns: 300 });
  });

  it('handles a huge header block', () => {
    const big = 'X-Junk: ' + 'a'.repeat(2_000_000) + '\n' + 'Received: x\n'.repeat(20_000);
    parsesQuickly(big + sample(3).toString('latin1'), 500);
  });

  it('handles deep MIME nesting', () => {
    let body = 'Content-Type: text/plain\n\n550 5.1.1 <a@example.jp>: User unknown\n';
    for (let d = 0; d < 500; d++) body = `Content-Type: multipart/mixed; boundary="b${d}"\n\n--b${d}\n${body}\n--b${d}--\n`;
    parsesQuickly('From: MAILER-DAEMON@example.jp\nSubject: Undelivered\n' + body);
  });

  it('handles a 25 MB attachment', () => {
    const att = Buffer.alloc(25 * 1024 * 1024, 65).toString('base64');
    const raw = `From: MAILER-DAEMON@example.jp\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/mixed; boundary="X"\n\n--X\nContent-Type: text/plain\n\n<a@example.jp>: 550 5.1.1 User unknown\n--X\nContent-Type: application/octet-stream; name=big.bin\nContent-Transfer-Encoding: base64\n\n${att}\n--X--\n`;
    const before = process.memoryUsage().heapUsed;
    parsesQuickly(raw, 1000);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(400 * 1024 * 1024);
  });

  it('handles 10,000 recipients', () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `<user${i}@example.jp>: host mx.example.jp said: 550 5.1.1 User unknown`).join('\n\n');
    const raw = `From: MAILER-DAEMON@example.jp\nSubject: Undelivered Mail Returned to Sender\n\n${lines}\n`;
    const t = performance.now();
    const r = parse(raw);
    expect(r.recipients).toHaveLength(10_000);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it('parses every corpus file within the time budget', () => {
    for (const f of files) parsesQuickly(corpusFile(f));
  });
});
