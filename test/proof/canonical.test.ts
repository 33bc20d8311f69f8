import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, sha256Hex, type JsonValue } from '../../src/proof/canonical.js';
import { GENESIS, checkpointMessage, entryHash, eventContent, purgeContent, reportContent } from '../../src/proof/format.js';

describe('canonical JSON (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units, drops whitespace, keeps JSON.stringify escapes and numbers', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'é'], c: { z: 'x', y: -0.5 } })).toBe('{"a":[true,null,"é"],"b":1,"c":{"y":-0.5,"z":"x"}}');
    // RFC 8785 §3.2.3 sorting example: code units, so "\u20ac" (€) sorts before "\ud83d\ude00" (😀).
    expect(canonicalJson({ '😀': 1, '€': 2, '\r': 3, '1': 4, ö: 5 })).toBe('{"\\r":3,"1":4,"ö":5,"€":2,"😀":1}');
    expect(canonicalJson({ n: 1e21, m: 1e-7, i: 100, s: 'line\nbreak"q"' })).toBe('{"i":100,"m":1e-7,"n":1e+21,"s":"line\\nbreak\\"q\\""}');
  });

  it('refuses values JSON cannot carry', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJson([Infinity])).toThrow();
  });

  it('is independent of key order and round-trips through JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const value = v as JsonValue;
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text) as JsonValue)).toBe(text);
        const shuffled = JSON.parse(JSON.stringify(value, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).reverse()) : x)));
        expect(canonicalJson(shuffled as JsonValue)).toBe(text);
      }),
    );
  });

  it('hashes are sha256 hex of the canonical UTF-8 bytes, and an entry hash commits to every field', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(contentHash({ b: 2, a: 1 })).toBe(sha256Hex('{"a":1,"b":2}'));
    const h = entryHash('c', 1, GENESIS, contentHash({}));
    expect(h).toBe(sha256Hex(`{"chain":"c","content_hash":"${contentHash({})}","prev":"${GENESIS}","seq":1}`));
    expect(entryHash('c', 2, GENESIS, contentHash({}))).not.toBe(h);
    expect(entryHash('d', 1, GENESIS, contentHash({}))).not.toBe(h);
  });

  // Golden values of format version 1 (also in the README, and checked there with Python's
  // json + hashlib): a change here breaks every bundle already handed out.
  it('format v1 golden vectors', () => {
    const tenant = '01900000-0000-7000-8000-0000000000aa';
    const content = eventContent({
      id: '01900000-0000-7000-8000-000000000001',
      tenant_id: tenant,
      message_id: '01900000-0000-7000-8000-0000000000bb',
      tenant_seq: 1,
      type: 'clicked',
      occurred_at: new Date('2026-03-01T10:00:00.000Z'),
      recorded_at: new Date('2026-03-01T10:00:00.123Z'),
      source: 'tracking',
      data: { url: 'https://example.com/é', human: true },
      dedupe_key: null,
      report_id: null,
    });
    expect(canonicalJson(content)).toBe(
      '{"data":{"human":true,"url":"https://example.com/é"},"dedupe_key":null,"id":"01900000-0000-7000-8000-000000000001","kind":"event","message_id":"01900000-0000-7000-8000-0000000000bb","occurred_at":"2026-03-01T10:00:00.000Z","recorded_at":"2026-03-01T10:00:00.123Z","report_id":null,"source":"tracking","tenant_id":"01900000-0000-7000-8000-0000000000aa","tenant_seq":1,"type":"clicked"}',
    );
    const ch = contentHash(content);
    expect(ch).toBe('c806d6eedaf95389e95b7bbfe9c6212bb344a11efa8e12554e9a80c141b75ef8');
    const head = entryHash(tenant, 1, GENESIS, ch);
    expect(head).toBe('1b9dce196b923d3bdf64e16a45a7ad9740541b360866a984d74e999a06cea6bd');
    const at = new Date('2026-03-01T10:00:00.000Z');
    expect(contentHash(reportContent({ id: 7, sha256: 'a'.repeat(64), size: 10, source: 'smtp', received_at: at }))).toBe(
      'cab9d511ef4325f6182871f5c447b01a855719b9c67edb0f42660a34ca147e2a',
    );
    expect(contentHash(purgeContent({ id: 7, sha256: 'a'.repeat(64) }, new Date('2026-06-01T00:00:00.000Z')))).toBe(
      '58e23f4bc8bc4ffc78ed716e312d891056e966fc96d152a84e13548c9920859f',
    );
    expect(checkpointMessage({ chain: 'c', seq: 2, head, at: new Date('2026-03-01T10:01:00.000Z'), key_id: 'b'.repeat(64) }).toString()).toBe(
      `{"at":"2026-03-01T10:01:00.000Z","chain":"c","head":"${head}","key_id":"${'b'.repeat(64)}","seq":2,"type":"mailtrail-checkpoint/1"}`,
    );
  });
});
