import { createHmac, timingSafeEqual } from 'node:crypto';
import { bytesToUuid, uuidToBytes } from './ids.js';

/**
 * HMAC-signed tokens that name a message. Each purpose has its own derived key, so a token made
 * for one use (say, the pixel) can never be replayed as another (the unsubscribe).
 */
export type TokenPurpose = 'verp' | 'open' | 'click' | 'sms-link' | 'unsubscribe' | 'unsubscribe-mailto' | 'message-id';

// Tokens that travel in an email local part pass through MTAs that may change letter case.
const CASE_FOLDED: ReadonlySet<TokenPurpose> = new Set(['verp', 'unsubscribe-mailto']);

const MAC_BYTES = 10; // 80 bits: forging needs ~2^80 tries against an online endpoint

// Derived keys are cached: deriving one per token was half the cost of a tracking hit. Keyed by
// secret too, so tests with several secrets in one process stay correct.
const purposeKeys = new Map<string, Buffer>();

function purposeKey(secret: string, purpose: TokenPurpose): Buffer {
  const id = `${purpose}\0${secret}`;
  let key = purposeKeys.get(id);
  if (!key) {
    key = createHmac('sha256', secret).update(`mailtrail/token/${purpose}`).digest();
    if (purposeKeys.size < 64) purposeKeys.set(id, key);
  }
  return key;
}

function mac(secret: string, purpose: TokenPurpose, payload: Buffer): Buffer {
  return createHmac('sha256', purposeKey(secret, purpose)).update(payload).digest().subarray(0, MAC_BYTES);
}

// RFC 4648 base32 without padding, lower case: survives case folding of email local parts.
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32Encode(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(s: string): Buffer | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s.toLowerCase()) {
    const v = B32.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A token for `messageId`, optionally binding extra bytes (e.g. a click's target URL). */
export function signToken(secret: string, purpose: TokenPurpose, messageId: string, extra?: Buffer): string {
  const id = uuidToBytes(messageId);
  const payload = extra ? Buffer.concat([id, extra]) : id;
  const body = Buffer.concat([payload, mac(secret, purpose, payload)]);
  return CASE_FOLDED.has(purpose) ? base32Encode(body) : body.toString('base64url');
}

export interface VerifiedToken {
  messageId: string;
  extra: Buffer;
}

/** Returns the message id (and extra bytes) of a genuine token, or null. Never throws. */
export function verifyToken(secret: string, purpose: TokenPurpose, token: string): VerifiedToken | null {
  if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
  let body: Buffer | null;
  if (CASE_FOLDED.has(purpose)) body = base32Decode(token);
  else body = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : null;
  if (!body || body.length < 16 + MAC_BYTES) return null;
  // One token per message: refuse non-canonical spellings (stray low bits in the last character).
  const canonical = CASE_FOLDED.has(purpose) ? base32Encode(body) === token.toLowerCase() : body.toString('base64url') === token;
  if (!canonical) return null;
  const payload = body.subarray(0, body.length - MAC_BYTES);
  const given = body.subarray(body.length - MAC_BYTES);
  if (!timingSafeEqual(given, mac(secret, purpose, payload))) return null;
  return { messageId: bytesToUuid(payload.subarray(0, 16)), extra: payload.subarray(16) };
}

/** The VERP return path of a message: `b+<token>@<domain>`. */
export function verpAddress(secret: string, messageId: string, domain: string): string {
  return `b+${signToken(secret, 'verp', messageId)}@${domain}`;
}

/** Message id named by a VERP address (any letter case), or null if the address is not ours or forged. */
export function parseVerpAddress(secret: string, address: string, domains: readonly string[]): string | null {
  return parseTokenAddress(secret, 'b', 'verp', address, domains);
}

/**
 * The mailto List-Unsubscribe address of a message: `u+<token>@<domain>`, mail to it unsubscribes
 * the recipient (src/ingest).
 */
export function unsubscribeMailto(secret: string, messageId: string, domain: string): string {
  return `u+${signToken(secret, 'unsubscribe-mailto', messageId)}@${domain}`;
}

/** Message id named by a mailto-unsubscribe address (any letter case), or null if not ours or forged. */
export function parseUnsubscribeMailto(secret: string, address: string, domains: readonly string[]): string | null {
  return parseTokenAddress(secret, 'u', 'unsubscribe-mailto', address, domains);
}

function parseTokenAddress(
  secret: string,
  prefix: string,
  purpose: TokenPurpose,
  address: string,
  domains: readonly string[],
): string | null {
  const m = /^([a-z])\+([a-z2-7]+)@([^@\s]+)$/i.exec(address.trim());
  if (!m || m[1].toLowerCase() !== prefix) return null;
  if (!domains.some((d) => d.toLowerCase() === m[3].toLowerCase())) return null;
  return verifyToken(secret, purpose, m[2])?.messageId ?? null;
}

const TAG_CHARS = Math.ceil((MAC_BYTES * 8) / 5);
const TAGGED = new RegExp(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\\.([a-z2-7]{${TAG_CHARS}})$`);

/**
 * Our id of a message as it travels in its headers (X-Mailtrail-Id, the Message-ID's left part,
 * the DSN ENVID): the message UUID, readable, then a base32 HMAC tag of it, so a report that
 * quotes it back proves it saw our message and not just guessed or copied a bare UUID.
 *
 * @example taggedId(secret, '0190a6f2-…') → '0190a6f2-….k3q2m5x7w4a2b6c8'
 */
export function taggedId(secret: string, messageId: string): string {
  return `${messageId.toLowerCase()}.${base32Encode(mac(secret, 'message-id', uuidToBytes(messageId)))}`;
}

/** The Message-ID header of a message: `<uuid.tag@domain>`. */
export function messageIdHeader(secret: string, messageId: string, domain: string): string {
  return `<${taggedId(secret, messageId)}@${domain}>`;
}

function taggedParts(value: string): RegExpExecArray | null {
  if (typeof value !== 'string' || value.length > 1000) return null;
  const bare = value.trim().replace(/^<(.*)>$/, '$1').trim();
  const at = bare.lastIndexOf('@');
  return TAGGED.exec((at < 0 ? bare : bare.slice(0, at)).toLowerCase());
}

/** Whether a value has the shape of a tagged id, whether or not its tag verifies. */
export function hasTag(value: string): boolean {
  return taggedParts(value) !== null;
}

/**
 * The message UUID of a tagged id whose tag verifies (constant time), given as `uuid.tag`,
 * `uuid.tag@domain` or `<uuid.tag@domain>` in any letter case; null for anything else, an
 * untagged UUID included. Never throws.
 */
export function parseTaggedId(secret: string, value: string): string | null {
  const m = taggedParts(value);
  if (!m) return null;
  const given = base32Decode(m[2]);
  // Only the canonical spelling: the tag's spare low bits must be zero.
  if (!given || given.length !== MAC_BYTES || base32Encode(given) !== m[2]) return null;
  return timingSafeEqual(given, mac(secret, 'message-id', uuidToBytes(m[1]))) ? m[1] : null;
}
