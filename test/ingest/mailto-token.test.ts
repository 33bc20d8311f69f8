import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/ids.js';
import { parseUnsubscribeMailto, parseVerpAddress, unsubscribeMailto, verpAddress } from '../../src/core/tokens.js';

const SECRET = 'k'.repeat(40);
const DOMAINS = ['bounces.test'];

describe('mailto-unsubscribe address', () => {
  it('names its message, whatever letter case an MTA gives it', () => {
    const id = uuidv7();
    const addr = unsubscribeMailto(SECRET, id, 'bounces.test');
    expect(addr).toMatch(/^u\+[a-z2-7]+@bounces\.test$/);
    expect(parseUnsubscribeMailto(SECRET, addr, DOMAINS)).toBe(id);
    expect(parseUnsubscribeMailto(SECRET, addr.toUpperCase(), DOMAINS)).toBe(id);
  });

  it('is not a VERP address and a VERP address is not an unsubscribe', () => {
    const id = uuidv7();
    const u = unsubscribeMailto(SECRET, id, 'bounces.test');
    const b = verpAddress(SECRET, id, 'bounces.test');
    expect(parseVerpAddress(SECRET, u, DOMAINS)).toBeNull();
    expect(parseVerpAddress(SECRET, `b+${u.slice(2)}`, DOMAINS)).toBeNull();
    expect(parseUnsubscribeMailto(SECRET, b, DOMAINS)).toBeNull();
    expect(parseUnsubscribeMailto(SECRET, `u+${b.slice(2)}`, DOMAINS)).toBeNull();
  });

  it('refuses tampered tokens, other secrets and other domains', () => {
    const id = uuidv7();
    const addr = unsubscribeMailto(SECRET, id, 'bounces.test');
    const [local, domain] = addr.split('@');
    const flipped = local.slice(0, -1) + (local.endsWith('a') ? 'b' : 'a');
    expect(parseUnsubscribeMailto(SECRET, `${flipped}@${domain}`, DOMAINS)).toBeNull();
    expect(parseUnsubscribeMailto('x'.repeat(40), addr, DOMAINS)).toBeNull();
    expect(parseUnsubscribeMailto(SECRET, `${local}@evil.test`, DOMAINS)).toBeNull();
  });
});
