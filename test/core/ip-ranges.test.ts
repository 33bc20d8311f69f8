import { describe, expect, it } from 'vitest';
import { checkAddress, checkHost, parseCidr, parseIp } from '../../src/core/ip-ranges.js';

const none: never[] = [];

describe('ip ranges for outbound requests', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['0:0:0:0:0:ffff:a00:1', 'private'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['64:ff9b::a9fe:a9fe', 'NAT64'],
    ['2002:7f00:1::1', 'loopback'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s)', (ip, why) => {
    const v = checkAddress(ip, none);
    expect(v.ok).toBe(false);
    expect(v.ok ? '' : v.reason).toContain(why);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.1', '169.255.0.1', '2606:4700::1111', '2001:db8::1', '2002:0808:0808::1', '::ffff:8.8.8.8'])(
    'accepts public %s',
    (ip) => expect(checkAddress(ip, none)).toEqual({ ok: true }),
  );

  it('lets the operator allow listed ranges, and only those', () => {
    const allow = ['127.0.0.1/32', '10.20.0.0/16', 'fd00::/8'].map((c) => parseCidr(c)!);
    expect(checkAddress('127.0.0.1', allow).ok).toBe(true);
    expect(checkAddress('::ffff:127.0.0.1', allow).ok).toBe(true);
    expect(checkAddress('127.0.0.2', allow).ok).toBe(false);
    expect(checkAddress('10.20.255.1', allow).ok).toBe(true);
    expect(checkAddress('10.21.0.1', allow).ok).toBe(false);
    expect(checkAddress('fd00::5', allow).ok).toBe(true);
    expect(checkAddress('fc00::5', allow).ok).toBe(false);
  });

  it('reads literals strictly: no octal, hex or short IPv4, no malformed IPv6', () => {
    for (const s of ['0177.0.0.1', '0x7f.0.0.1', '127.1', '2130706433', '1.2.3.256', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '', '::ffff:1.2.3']) {
      expect(parseIp(s), s).toBeNull();
    }
    expect(parseIp('1:2:3:4:5:6:7:8')).toEqual({ family: 6, value: 0x00010002000300040005000600070008n });
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/8/1')).toBeNull();
    expect(parseCidr('10.9.9.9/8')).toMatchObject({ family: 4, base: 0x0a000000n, bits: 8 });
  });

  it('refuses metadata and localhost names before any lookup, and judges literal hosts as addresses', () => {
    for (const h of ['metadata.google.internal', 'METADATA.google.internal.', 'metadata', 'instance-data.ec2.internal', 'localhost', 'x.localhost']) {
      expect(checkHost(h, none).ok, h).toBe(false);
    }
    expect(checkHost('[::1]', none).ok).toBe(false);
    expect(checkHost('hooks.example.com', none).ok).toBe(true);
    expect(checkHost('8.8.8.8', none).ok).toBe(true);
  });
});
