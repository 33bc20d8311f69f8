import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatUdh, decodeSmsText, gsmDecode, gsmSeptets, planSms } from '../../src/core/sms-encoding.js';

const joinGsm = (segs: Buffer[]) => gsmDecode(Buffer.concat(segs));
const joinUcs2 = (segs: Buffer[]) => decodeSmsText(Buffer.concat(segs), 8);

describe('planSms', () => {
  it.each([
    ['', 'gsm7', 0, 1],
    ['Hello', 'gsm7', 5, 1],
    ['a'.repeat(160), 'gsm7', 160, 1],
    ['a'.repeat(161), 'gsm7', 161, 2],
    ['a'.repeat(306), 'gsm7', 306, 2],
    ['a'.repeat(307), 'gsm7', 307, 3],
    ['€'.repeat(80), 'gsm7', 160, 1],
    ['€'.repeat(81), 'gsm7', 162, 2],
    ['Café à 5€ {ok}', 'gsm7', 17, 1],
    ['Ça coûte', 'ucs2', 8, 1],
    ['é'.repeat(200), 'gsm7', 200, 2],
    ['Привет', 'ucs2', 6, 1],
    ['x'.repeat(70) + '', 'gsm7', 70, 1],
    ['ж'.repeat(70), 'ucs2', 70, 1],
    ['ж'.repeat(71), 'ucs2', 71, 2],
    ['ж'.repeat(134), 'ucs2', 134, 2],
    ['ж'.repeat(135), 'ucs2', 135, 3],
    ['😀'.repeat(35), 'ucs2', 70, 1],
    ['😀'.repeat(36), 'ucs2', 72, 2],
  ])('%j → %s, %i units, %i segment(s)', (text, encoding, units, segments) => {
    const p = planSms(text);
    expect(p).toMatchObject({ encoding, units });
    expect(p.segments).toHaveLength(segments);
  });

  it('never splits an escape pair: the 153rd septet of a part is not a lone escape', () => {
    const p = planSms('a'.repeat(152) + '€' + 'b'.repeat(10));
    expect(p.segments.map((s) => s.length)).toEqual([152, 12]);
    expect(joinGsm(p.segments)).toBe('a'.repeat(152) + '€' + 'b'.repeat(10));
  });

  it('never splits a surrogate pair', () => {
    const text = 'ж'.repeat(66) + '😀' + 'ж'.repeat(5);
    const p = planSms(text);
    expect(p.segments.map((s) => s.length / 2)).toEqual([66, 7]);
    expect(joinUcs2(p.segments)).toBe(text);
  });

  it('encodes GSM 03.38 code points as the spec gives them', () => {
    expect([...planSms('@£$_€Ü').segments[0]]).toEqual([0x00, 0x01, 0x02, 0x11, 0x1b, 0x65, 0x5e]);
  });

  it('round-trips any text and respects the per-part limits', () => {
    const alphabet = fc.constantFrom(...'abcXYZ 019@£$_éèÇΔ€[]{}^~|\\\nжя😀ü'.match(/./gsu)!);
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 500 }).map((a) => a.join('')), (text) => {
        const p = planSms(text);
        const max = p.encoding === 'gsm7' ? (p.segments.length === 1 ? 160 : 153) : (p.segments.length === 1 ? 140 : 134);
        for (const s of p.segments) expect(s.length).toBeLessThanOrEqual(max);
        expect(p.encoding === 'gsm7' ? joinGsm(p.segments) : joinUcs2(p.segments)).toBe(text);
        expect(p.encoding === 'gsm7').toBe(gsmSeptets(text) !== null);
      }),
    );
  });
});

describe('concatUdh', () => {
  it('is the 8-bit concatenation IE', () => {
    expect([...concatUdh(0x1ab, 3, 2)]).toEqual([5, 0, 3, 0xab, 3, 2]);
  });
});
