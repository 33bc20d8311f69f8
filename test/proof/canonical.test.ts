import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, sha256Hex, type JsonValue } from '../../src/proof/canonical.js';
import { GENESIS, entryHash } from '../../src/proof/format.js';

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
});
