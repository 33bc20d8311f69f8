/**
 * A small DER reader and the few encoders RFC 3161 needs. Node has X.509 and signature
 * verification built in but no ASN.1 parser; timestamp tokens (CMS SignedData around a TSTInfo)
 * need only tag-length-value walking, so this stays tiny: no schema, no BER indefinite lengths
 * (DER forbids them), bounded by the input it is given.
 */

export interface Tlv {
  /** The identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** Offset of the identifier octet in the buffer, and of the value. */
  start: number;
  valueStart: number;
  /** Offset just past the value. */
  end: number;
  /** The whole encoding (identifier, length and value), a view into the buffer. */
  raw: Buffer;
  value: Buffer;
}

export class DerError extends Error {}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag `[n]`, constructed (explicit or a constructed implicit type) or not. */
export const ctx = (n: number, constructed = true): number => 0x80 | (constructed ? 0x20 : 0) | n;

/** The TLV at `offset`; throws DerError on anything that is not well-formed DER. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4 || p + n > buf.length) throw new DerError('length too long');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  const end = p + len;
  if (end > buf.length) throw new DerError('truncated');
  return { tag, start: offset, valueStart: p, end, raw: buf.subarray(offset, end), value: buf.subarray(p, end) };
}

/** The children of a constructed TLV, in order. */
export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < t.value.length) {
    const c = readTlv(t.value, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Reads exactly one TLV spanning the whole buffer (trailing bytes are an error). */
export function readOne(buf: Buffer): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError('trailing bytes after the value');
  return t;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found ${t ? `0x${t.tag.toString(16)}` : 'nothing'}`);
  return t;
}

/** Dotted form of an OBJECT IDENTIFIER's value. */
export function oidOf(t: Tlv): string {
  expectTag(t, TAG.OID, 'object identifier');
  const v = t.value;
  if (v.length === 0) throw new DerError('empty object identifier');
  const parts: number[] = [];
  let n = 0;
  for (const b of v) {
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** An INTEGER as a bigint (two's complement). */
export function integerOf(t: Tlv): bigint {
  expectTag(t, TAG.INTEGER, 'integer');
  if (t.value.length === 0) throw new DerError('empty integer');
  let n = BigInt(`0x${t.value.toString('hex')}`);
  if (t.value[0] & 0x80) n -= 1n << BigInt(t.value.length * 8);
  return n;
}

/** GeneralizedTime `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 §2.4.2 requires UTC with Z). */
export function generalizedTimeOf(t: Tlv): Date {
  expectTag(t, TAG.GENERALIZED_TIME, 'generalized time');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(t.value.toString('latin1'));
  if (!m) throw new DerError(`not a UTC GeneralizedTime: ${t.value.toString('latin1').slice(0, 40)}`);
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], Math.floor(ms)));
}

// Encoders, for the request.

export function encode(tag: number, value: Buffer): Buffer {
  const len = value.length;
  let head: Buffer;
  if (len < 0x80) head = Buffer.from([tag, len]);
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    head = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([head, value]);
}

export const sequence = (...items: Buffer[]): Buffer => encode(TAG.SEQUENCE, Buffer.concat(items));

export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [a * 40 + b];
  for (const n of rest) {
    const groups: number[] = [];
    let v = n;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    groups.forEach((g, i) => bytes.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return encode(TAG.OID, Buffer.from(bytes));
}

/** A non-negative INTEGER from big-endian bytes (a leading zero added when the high bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let v = bytes;
  while (v.length > 1 && v[0] === 0 && !(v[1] & 0x80)) v = v.subarray(1);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return encode(TAG.INTEGER, v);
}

export const octetString = (b: Buffer): Buffer => encode(TAG.OCTET_STRING, b);
export const boolean = (v: boolean): Buffer => encode(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0]));
export const nullValue = (): Buffer => Buffer.from([TAG.NULL, 0]);
