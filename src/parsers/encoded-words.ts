import { decodeBytes } from './charset.js';

/** Decodes RFC 2047 encoded words, e.g. `=?ISO-2022-JP?B?GyRC...?=` → text. */
export function decodeEncodedWords(value: string): string {
  // Whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2).
  const joined = value.length > 8192 ? value.slice(0, 8192) : value;
  return joined
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?\s]{1,40})\?([BbQq])\?([^?\s]*)\?=/g, (_m, cs: string, enc: string, data: string) => {
      const charset = cs.replace(/\*.*$/, '');
      const bin =
        enc === 'B' || enc === 'b'
          ? Buffer.from(data, 'base64').toString('latin1')
          : data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return decodeBytes(bin, charset);
    });
}
