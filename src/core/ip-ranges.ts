/**
 * Which network addresses an outbound request (a webhook) may reach. Pure: text addresses in,
 * verdicts out; name resolution happens at the edge (src/webhooks/safe-request.ts), which checks
 * every resolved address here just before it connects.
 */

/** A parsed address: IPv4 as 32 bits, IPv6 as 128 bits; IPv4-mapped IPv6 becomes its IPv4. */
export interface Ip {
  family: 4 | 6;
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
  text: string;
}

/** Parses a dotted quad strictly (no octal, hex or short forms, which resolvers read differently). */
function parseIpv4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseIpv6(s: string): bigint | null {
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: bigint | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (tail === null) return null;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const group = (h: string) => (h === '' ? [] : h.split(':'));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== null) v = (v & ~0xffffffffn) | tail;
  return v;
}

/**
 * Parses an IP literal (brackets allowed around IPv6); null when it is not one.
 * `parseIp('::ffff:127.0.0.1')` → `{ family: 4, value: 0x7f000001n }`.
 */
export function parseIp(text: string): Ip | null {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(s);
  if (v4 !== null) return { family: 4, value: v4 };
  if (!s.includes(':')) return null;
  const v6 = parseIpv6(s);
  if (v6 === null) return null;
  // ::ffff:a.b.c.d reaches the IPv4 host a.b.c.d: judge it as that host.
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | null {
  const [addr, len, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(bits >= 0 && bits <= max)) return null;
  const shift = BigInt(max - bits);
  return { family: ip.family, base: (ip.value >> shift) << shift, bits, text: text.trim() };
}

export function inCidr(ip: Ip, c: Cidr): boolean {
  if (ip.family !== c.family) return false;
  const shift = BigInt((ip.family === 4 ? 32 : 128) - c.bits);
  return ip.value >> shift === c.base >> shift;
}

/** Ranges a webhook never reaches by default, each with why (the why is what the tenant sees). */
const BLOCKED: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  // IPv4-compatible (deprecated) and NAT64 forms embed an IPv4 host that a translator may reach.
  ['::/96', 'IPv4-compatible'],
  ['64:ff9b::/96', 'NAT64'],
  ['64:ff9b:1::/48', 'NAT64'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];
const BLOCKED_CIDRS = BLOCKED.map(([c, why]) => ({ cidr: parseCidr(c)!, why }));

const SIX_TO_FOUR = parseCidr('2002::/16')!;

/** Names that reach a cloud provider's instance metadata, or this host, whatever DNS says. */
const BLOCKED_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
  'metadata.platformequinix.com',
]);

/** Why `ip` may not be reached (null: it may). 6to4 addresses are judged by the IPv4 they embed. */
function blockedReason(ip: Ip): string | null {
  const target = inCidr(ip, SIX_TO_FOUR) ? { family: 4 as const, value: (ip.value >> 80n) & 0xffffffffn } : ip;
  for (const { cidr, why } of BLOCKED_CIDRS) if (inCidr(target, cidr)) return why;
  return null;
}

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether an outbound request may connect to the address `text`: refused for loopback, private,
 * link-local, CGNAT, unique-local, unspecified, multicast and reserved ranges (and their
 * IPv4-mapped forms), unless an operator-listed range in `allow` covers it.
 */
export function checkAddress(text: string, allow: readonly Cidr[]): AddressVerdict {
  const ip = parseIp(text);
  if (!ip) return { ok: false, reason: 'not an IP address' };
  if (allow.some((c) => inCidr(ip, c))) return { ok: true };
  const why = blockedReason(ip);
  return why ? { ok: false, reason: `${why} address` } : { ok: true };
}

/**
 * The check a URL's host gets before any lookup: an IP literal is judged as an address, a name is
 * refused when it is a metadata or localhost name (`*.localhost` included). Names that pass still
 * have every resolved address checked at connect time.
 */
export function checkHost(host: string, allow: readonly Cidr[]): AddressVerdict {
  if (parseIp(host)) return checkAddress(host, allow);
  const name = host.toLowerCase().replace(/\.$/, '');
  if (BLOCKED_NAMES.has(name) || name.endsWith('.localhost')) return { ok: false, reason: 'metadata or localhost host name' };
  return { ok: true };
}
