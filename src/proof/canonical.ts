import { createHash } from 'node:crypto';

/** A JSON value as it appears in a proof entry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers
 * and strings serialized as ECMAScript's JSON.stringify does. Two parties that hold the same value
 * get the same bytes, so its hash can be checked by anyone.
 * Example: canonicalJson({ b: 1, a: [true, 'é'] }) === '{"a":[true,"é"],"b":1}'.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  // Array.prototype.sort without a comparator compares UTF-16 code units, exactly what JCS asks for.
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

/** Lower-case hex sha256 of a string's UTF-8 bytes, or of raw bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of the canonical form: the hash of an entry's content. */
export function contentHash(value: JsonValue): string {
  return sha256Hex(canonicalJson(value));
}
