import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/ids.js';
import {
  base32Decode,
  base32Encode,
  parseUnsubscribeMailto,
  parseVerpAddress,
  signToken,
  unsubscribeMailto,
  verifyToken,
  verpAddress,
  type TokenPurpose,
} from '../../src/core/tokens.js';

const secret = 'k'.repeat(32);
const purposes: TokenPurpose[] = ['verp', 'open', 'click', 'unsubscribe', 'unsubscribe-mailto'];

describe('signed tokens', () => {
  it('round-trips the message id and the bound bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...purposes), fc.uint8Array({ maxLength: 200 }), (purpose, extra) => {
        const id = uuidv7();
        const v = verifyToken(secret, purpose, signToken(secret, purpose, id, Buffer.from(extra)));
        expect(v?.messageId).toBe(id);
        expect([...(v?.extra ?? [])]).toEqual([...extra]);
      }),
    );
  });

  it('rejects any altered character', () => {
    fc.assert(
      fc.property(fc.constantFrom<TokenPurpose>('click', 'verp'), fc.nat(), fc.nat(), (purpose, pos, pick) => {
        const token = signToken(secret, purpose, uuidv7(), Buffer.from('https://example.com/x'));
        const i = pos % token.length;
        const alphabet = purpose === 'verp' ? 'abcdefghijklmnopqrstuvwxyz234567' : 'ABCabc012_-';
        const c = alphabet[pick % alphabet.length];
        fc.pre(c !== token[i].toLowerCase() && c !== token[i]);
        const forged = token.slice(0, i) + c + token.slice(i + 1);
        expect(verifyToken(secret, purpose, forged)).toBeNull();
      }),
    );
  });

  it('never accepts a token of one purpose for another, or under another secret', () => {
    const id = uuidv7();
    const open = signToken(secret, 'open', id);
    expect(verifyToken(secret, 'unsubscribe', open)).toBeNull();
    expect(verifyToken(secret, 'click', open)).toBeNull();
    expect(verifyToken('z'.repeat(32), 'open', open)).toBeNull();
  });

  it('returns null, never throws, on garbage', () => {
    fc.assert(
      fc.property(fc.constantFrom(...purposes), fc.string({ maxLength: 5000 }), (purpose, s) => {
        expect(verifyToken(secret, purpose, s)).toBeNull();
      }),
    );
  });

  it('base32 round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect([...base32Decode(base32Encode(Buffer.from(b)))!]).toEqual([...b]);
      }),
    );
  });
});

describe('addresses in the envelope', () => {
  it('a VERP address survives case folding by MTAs and fits a local part', () => {
    const id = uuidv7();
    const verp = verpAddress(secret, id, 'bounces.example.com');
    expect(verp.split('@')[0].length).toBeLessThanOrEqual(64);
    expect(parseVerpAddress(secret, verp.toUpperCase(), ['bounces.example.com'])).toBe(id);
  });

  it('is ours only on our bounce domains and with the right prefix', () => {
    const id = uuidv7();
    const verp = verpAddress(secret, id, 'bounces.example.com');
    expect(parseVerpAddress(secret, verp, ['other.example.com'])).toBeNull();
    expect(parseUnsubscribeMailto(secret, verp, ['bounces.example.com'])).toBeNull();
    const unsub = unsubscribeMailto(secret, id, 'bounces.example.com');
    expect(parseUnsubscribeMailto(secret, unsub, ['bounces.example.com'])).toBe(id);
    expect(parseVerpAddress(secret, unsub, ['bounces.example.com'])).toBeNull();
  });
});
