import { describe, expect, it } from 'vitest';
import { createParsePool, PARSE_CRASH, PARSE_TIMEOUT } from '../../src/ingest/parse-pool.js';
import { parse } from '../../src/parsers/index.js';
import { corpusFile, corpusFiles } from '../support/shared.js';

/** A DSN whose human part is megabytes of blank lines: linear, but long to parse. */
function slowDsn(mb: number): Buffer {
  const blank = '\n'.repeat(mb * 1024 * 1024);
  return Buffer.from(
    'From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n' +
      `--B\nContent-Type: text/plain\n\n${blank}\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n` +
      `Final-Recipient: rfc822; someone@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 ${blank.slice(0, 1 << 20)}\n--B--\n`,
    'latin1',
  );
}

describe('parse pool', () => {
  it('parses on its threads exactly as inline', async () => {
    const pool = createParsePool({ size: 2, timeoutMs: 30_000 });
    try {
      const files = corpusFiles().slice(0, 40);
      const raws = files.map((f) => corpusFile(f));
      const pooled = await Promise.all(raws.map((r) => pool.parse(r)));
      expect(pooled).toEqual(raws.map((r) => parse(r)));
      expect(pooled.some((r) => r.recipients.length > 0)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('gives a message over its budget back as unknown (parse_timeout), and the next one parses', async () => {
    const slow = slowDsn(4);
    // Inline, the same message takes far longer than the budget: the budget is what ends it.
    const t0 = performance.now();
    parse(slow);
    const inlineMs = performance.now() - t0;
    const budget = Math.max(20, Math.floor(inlineMs / 10));
    const pool = createParsePool({ size: 1, timeoutMs: budget });
    try {
      const good = corpusFile(corpusFiles()[0]);
      const [timedOut, after] = await Promise.all([pool.parse(slow), pool.parse(good)]);
      expect(timedOut.kind).toBe('unknown');
      expect(timedOut.error).toMatch(new RegExp(`^${PARSE_TIMEOUT}: not parsed within ${budget} ms`));
      // The replacement thread took the next message.
      expect(after).toEqual(parse(good));
    } finally {
      await pool.close();
    }
  });

  it('gives a message that kills its thread back as unknown (parse_crash), and replaces the thread', async () => {
    // A thread with a small heap runs out of memory on a DSN of 200,000 recipients: a real crash.
    const pool = createParsePool({ size: 1, timeoutMs: 60_000, maxHeapMb: 16 });
    try {
      const good = corpusFile(corpusFiles()[1]);
      const groups = Array.from({ length: 200_000 }, (_, i) => `Final-Recipient: rfc822; user${i}@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown`);
      const big = Buffer.from(
        'From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n' +
          `--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n${groups.join('\n\n')}\n--B--\n`,
        'latin1',
      );
      const crashed = await pool.parse(big);
      expect(crashed.kind).toBe('unknown');
      expect(crashed.error).toMatch(new RegExp(`^${PARSE_CRASH}: `));
      expect(await pool.parse(good)).toEqual(parse(good));
    } finally {
      await pool.close();
    }
  });

  it('lets handed-over messages finish on close, then parses inline', async () => {
    const pool = createParsePool({ size: 1, timeoutMs: 30_000 });
    const good = corpusFile(corpusFiles()[2]);
    const pending = [pool.parse(good), pool.parse(good)];
    await pool.close();
    expect(await Promise.all(pending)).toEqual([parse(good), parse(good)]);
    expect(await pool.parse(good)).toEqual(parse(good));
  });
});
