import { TextDecoder } from 'node:util';

/**
 * Charset decoding of "binary" strings (one char per byte). Node 20 ships full ICU, so
 * TextDecoder covers ISO-2022-JP, Shift_JIS, EUC-JP, KOI8-R, windows-125x and friends.
 */
const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key);
    } catch {
      d = null;
    }
    decoders.set(key, d);
  }
  return d;
}

/** Decodes bytes held in a binary string using the declared charset, guessing when absent. */
export function decodeBytes(bin: string, charset: string): string {
  if (!hasHighOrEscape(bin)) return bin;
  let cs = charset.trim().replace(/^"|"$/g, '');
  // Undeclared 7-bit Japanese mail is ISO-2022-JP by convention; 8-bit without a label is
  // most often UTF-8 today.
  if (!cs || cs === 'us-ascii' || cs === 'ascii') cs = bin.includes('\x1b$') ? 'iso-2022-jp' : 'utf-8';
  const d = decoderFor(cs) ?? decoderFor('utf-8');
  if (!d) return bin;
  return d.decode(Buffer.from(bin, 'latin1'));
}

function hasHighOrEscape(s: string): boolean {
  // A regex test runs natively and stops at the first hit, much faster than a JS loop.
  return /[\x80-\xff\x1b]/.test(s);
}
