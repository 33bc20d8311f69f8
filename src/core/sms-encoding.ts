/**
 * GSM 03.38 (3GPP TS 23.038) default alphabet and UCS-2, as an SMSC expects them in SMPP:
 * data_coding 0 carries one septet per octet (unpacked), data_coding 8 UTF-16BE.
 */

// Index = septet value. 0x1B is the escape to the extension table.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const ESCAPE = 0x1b;
/** Extension table: each of these costs two septets (escape + code). */
const EXTENSION: ReadonlyArray<[string, number]> = [
  ['\f', 0x0a], ['^', 0x14], ['{', 0x28], ['}', 0x29], ['\\', 0x2f], ['[', 0x3c], ['~', 0x3d], [']', 0x3e], ['|', 0x40], ['€', 0x65],
];

const TO_BASIC = new Map<string, number>();
for (let i = 0; i < BASIC.length; i++) if (i !== ESCAPE) TO_BASIC.set(BASIC[i], i);
const TO_EXT = new Map(EXTENSION);
const FROM_EXT = new Map(EXTENSION.map(([c, v]) => [v, c]));

export type SmsEncoding = 'gsm7' | 'ucs2';

/** SMPP data_coding of each encoding. */
export const DATA_CODING: Record<SmsEncoding, 0 | 8> = { gsm7: 0, ucs2: 8 };

/** Per-segment capacity: single message, and each part of a concatenated one (6-octet UDH). */
const LIMITS: Record<SmsEncoding, { single: number; part: number }> = {
  gsm7: { single: 160, part: 153 },
  ucs2: { single: 70, part: 67 },
};

export interface SmsPlan {
  encoding: SmsEncoding;
  /** Septets (gsm7) or UTF-16 code units (ucs2) of the whole text. */
  units: number;
  /** Encoded payload of each segment, without UDH; one entry for a single message. */
  segments: Buffer[];
}

/** The text as GSM septets (one per array item), or null when a character is not in the alphabet. */
export function gsmSeptets(text: string): number[] | null {
  const out: number[] = [];
  for (const ch of text) {
    const b = TO_BASIC.get(ch);
    if (b !== undefined) {
      out.push(b);
      continue;
    }
    const e = TO_EXT.get(ch);
    if (e === undefined) return null;
    out.push(ESCAPE, e);
  }
  return out;
}

/** Unpacked GSM septets back to text (inbound data_coding 0); unknown codes become `?`. */
export function gsmDecode(septets: Uint8Array): string {
  let out = '';
  for (let i = 0; i < septets.length; i++) {
    const s = septets[i];
    if (s === ESCAPE && i + 1 < septets.length) {
      out += FROM_EXT.get(septets[++i]) ?? ' ';
      continue;
    }
    out += s < BASIC.length && s !== ESCAPE ? BASIC[s] : '?';
  }
  return out;
}

/** Splits `units` into chunks of at most `size`, never between the two halves of a pair. */
function chunk(units: readonly number[], size: number, isFirstOfPair: (u: number) => boolean): number[][] {
  const parts: number[][] = [];
  let i = 0;
  while (i < units.length) {
    let end = Math.min(i + size, units.length);
    if (end < units.length && isFirstOfPair(units[end - 1])) end--;
    parts.push(units.slice(i, end));
    i = end;
  }
  return parts;
}

/**
 * Chooses the encoding (GSM 03.38 when every character is in it, else UCS-2) and splits the text
 * into segments: 160/153 septets, an escaped character counting two and never split; 70/67 UTF-16
 * code units, a surrogate pair never split.
 *
 * @example planSms('Hi €').segments[0] → <48 69 20 1b 65> (gsm7, 5 septets)
 */
export function planSms(text: string): SmsPlan {
  const septets = gsmSeptets(text);
  if (septets) {
    const parts = septets.length <= LIMITS.gsm7.single ? [septets] : chunk(septets, LIMITS.gsm7.part, (u) => u === ESCAPE);
    return { encoding: 'gsm7', units: septets.length, segments: parts.map((p) => Buffer.from(p)) };
  }
  const units = Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
  const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;
  const parts = units.length <= LIMITS.ucs2.single ? [units] : chunk(units, LIMITS.ucs2.part, isHigh);
  return {
    encoding: 'ucs2',
    units: units.length,
    segments: parts.map((p) => {
      const b = Buffer.alloc(p.length * 2);
      p.forEach((u, i) => b.writeUInt16BE(u, i * 2));
      return b;
    }),
  };
}

/** The 8-bit-reference concatenation UDH (IEI 0x00) of part `seq` of `total` (1-based). */
export function concatUdh(ref: number, total: number, seq: number): Buffer {
  return Buffer.from([0x05, 0x00, 0x03, ref & 0xff, total, seq]);
}

/** Decodes an inbound payload by its data_coding (0 and 1 as GSM/ASCII, 8 as UCS-2, 3 Latin-1). */
export function decodeSmsText(bytes: Uint8Array, dataCoding: number): string {
  const b = Buffer.from(bytes);
  switch (dataCoding & 0x0f) {
    case 8: {
      const even = b.subarray(0, b.length - (b.length % 2));
      return Buffer.from(even).swap16().toString('utf16le');
    }
    case 3:
      return b.toString('latin1');
    case 1:
      return b.toString('ascii');
    default:
      return gsmDecode(b);
  }
}
