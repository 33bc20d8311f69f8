import { describe, expect, it } from 'vitest';
import { USER_AGENT_RULES, inCidr, labelActivity, linkBursts, type Hit } from '../../src/core/machine-activity.js';

const delivered = new Date('2026-03-01T10:00:00Z');
const after = (ms: number) => new Date(delivered.getTime() + ms);
const SAFARI = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
const GMAIL = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const hit = (h: Partial<Hit>): Hit => ({ kind: 'open', method: 'GET', userAgent: SAFARI, ip: '203.0.113.9', at: after(30 * 60_000), ...h });
const ctx = { deliveredAt: delivered, linkBurst: false };

describe('labelActivity', () => {
  it('every user-agent rule matches the example it was written for', () => {
    for (const r of USER_AGENT_RULES) expect(USER_AGENT_RULES.find((x) => x.pattern.test(r.example))).toBe(r);
  });

  // Counting too much: machine opens must not move the status.
  it('labels Apple Mail Privacy Protection prefetches as privacy-proxy, not human', () => {
    const byUa = labelActivity(hit({ userAgent: 'Mozilla/5.0', ip: '104.28.40.1' }), ctx);
    expect(byUa).toMatchObject({ label: 'privacy-proxy', human: false });
    expect(byUa.signals).toContain('ua:bare-mozilla');
    const byNet = labelActivity(hit({ ip: '17.58.100.5' }), ctx);
    expect(byNet).toMatchObject({ label: 'privacy-proxy', human: false });
    expect(byNet.signals).toContain('net:apple');
  });

  it('labels scanners: bot UAs, HEAD requests, no UA, gateways, fast clicks, link bursts', () => {
    expect(labelActivity(hit({ userAgent: 'python-requests/2.31.0' }), ctx)).toMatchObject({ label: 'scanner', human: false });
    expect(labelActivity(hit({ method: 'HEAD' }), ctx)).toMatchObject({ label: 'scanner', human: false });
    expect(labelActivity(hit({ userAgent: null }), ctx)).toMatchObject({ label: 'scanner', human: false });
    expect(labelActivity(hit({ kind: 'click', userAgent: 'Mozilla/5.0 (compatible; Barracuda Sentinel (EE))' }), ctx)).toMatchObject({ label: 'scanner', human: false });
    const fast = labelActivity(hit({ kind: 'click', at: after(3_000) }), ctx);
    expect(fast).toMatchObject({ label: 'scanner', human: false });
    expect(fast.signals).toContain('fast-after-delivery');
    const burst = labelActivity(hit({ kind: 'click' }), { ...ctx, linkBurst: true });
    expect(burst).toMatchObject({ label: 'scanner', human: false });
    expect(burst.signals).toContain('all-links-within:5s');
  });

  // Counting too little: real Gmail/Yahoo opens come through their image proxies.
  it('counts Gmail and Yahoo proxy opens as human (image-proxy), unless they are a prefetch on arrival', () => {
    const gmail = labelActivity(hit({ userAgent: GMAIL, ip: '66.249.84.12' }), ctx);
    expect(gmail).toMatchObject({ label: 'image-proxy', human: true });
    expect(gmail.signals).toEqual(expect.arrayContaining(['ua:GoogleImageProxy', 'net:google-image-proxy']));
    expect(labelActivity(hit({ userAgent: 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html' }), ctx)).toMatchObject({ label: 'image-proxy', human: true });
    expect(labelActivity(hit({ userAgent: GMAIL, at: after(500) }), ctx)).toMatchObject({ label: 'image-proxy', human: false });
  });

  it('counts browsers and mail clients as human, and unknown agents too', () => {
    expect(labelActivity(hit({}), ctx)).toMatchObject({ label: 'human', human: true });
    expect(labelActivity(hit({ kind: 'click' }), ctx)).toMatchObject({ label: 'human', human: true });
    expect(labelActivity(hit({ userAgent: 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)' }), ctx)).toMatchObject({ label: 'human', human: true });
    expect(labelActivity(hit({ userAgent: 'SomeNewMailApp/1.0' }), ctx)).toMatchObject({ label: 'unknown', human: true });
    // "CUBOT" is a phone brand, not a bot.
    expect(labelActivity(hit({ userAgent: 'Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36' }), ctx)).toMatchObject({ label: 'human', human: true });
  });

  it('measures from delivery, not from submission: a hit before the message was sent is a machine', () => {
    const r = labelActivity(hit({}), { deliveredAt: null, linkBurst: false });
    expect(r.human).toBe(false);
    expect(r.signals).toContain('before-delivery');
    expect(labelActivity(hit({ at: after(1_000) }), ctx).human).toBe(false);
    expect(labelActivity(hit({ at: after(60_000) }), ctx).signals).toContain('since-delivery:60.0s');
  });
});

describe('linkBursts', () => {
  const at = (s: number) => after(s * 1000);
  it('flags clicks that cover every link within 5 s', () => {
    const clicks = [
      { url: 'https://a.example/', at: at(100) },
      { url: 'https://b.example/', at: at(101) },
      { url: 'https://c.example/', at: at(103) },
    ];
    expect([...linkBursts(clicks, 3)].sort()).toEqual([0, 1, 2]);
    expect(linkBursts(clicks, 4).size).toBe(0);
  });
  it('does not flag a person clicking links minutes apart, or a one-link message', () => {
    expect(linkBursts([{ url: 'https://a.example/', at: at(100) }, { url: 'https://b.example/', at: at(400) }], 2).size).toBe(0);
    expect(linkBursts([{ url: 'https://a.example/', at: at(100) }], 1).size).toBe(0);
  });
});

describe('inCidr', () => {
  it('matches IPv4 and IPv4-mapped IPv6 addresses', () => {
    expect(inCidr('17.1.2.3', '17.0.0.0/8')).toBe(true);
    expect(inCidr('::ffff:17.1.2.3', '17.0.0.0/8')).toBe(true);
    expect(inCidr('18.1.2.3', '17.0.0.0/8')).toBe(false);
    expect(inCidr('66.249.95.255', '66.249.80.0/20')).toBe(true);
    expect(inCidr('66.249.96.0', '66.249.80.0/20')).toBe(false);
    expect(inCidr('2001:db8::1', '17.0.0.0/8')).toBe(false);
    expect(inCidr('999.1.1.1', '0.0.0.0/0')).toBe(false);
  });
});
