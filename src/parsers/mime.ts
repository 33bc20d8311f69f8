import { decodeBytes } from './charset.js';
import { decodeEncodedWords } from './encoded-words.js';

/**
 * A lean MIME walker: just enough structure for bounce classification. Bodies stay as
 * "binary" strings (one char per byte, latin1) until someone asks for text, so a 25 MB
 * attachment costs one slice and is never decoded.
 */
export interface MimePart {
  /** Lower-cased header names; values unfolded, not yet RFC 2047-decoded. */
  headers: Map<string, string[]>;
  /** Lower-cased media type, e.g. "multipart/report"; "text/plain" when absent. */
  type: string;
  params: Map<string, string>;
  /** Raw body, bytes as latin1 chars, line ends normalised to LF. */
  body: string;
  /** Children of a multipart, or the one parsed message of message/rfc822. */
  parts: MimePart[];
}

/** Nesting and fan-out bounds: a hostile message must not make the walk deep or wide. */
const MAX_DEPTH = 12;
const MAX_PARTS = 64;
/** Bytes of header block we read; longer blocks are cut (real ones are a few KB). */
const MAX_HEADER_BYTES = 256 * 1024;

/** Turns raw input into the latin1 "binary" string the walker works on, LF line ends. */
export function toBinaryString(raw: Buffer | Uint8Array | string): string {
  const s = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}

/** Parses one entity (a whole message or a body part), recursing into multiparts. */
export function parseEntity(src: string, depth = 0): MimePart {
  let split = src.startsWith('\n') ? 0 : src.indexOf('\n\n');
  if (split === -1) split = src.length;
  const headerBlock = src.slice(0, Math.min(split, MAX_HEADER_BYTES));
  const body = split >= src.length ? '' : src.slice(split + (split === 0 ? 1 : 2));
  const headers = parseHeaders(headerBlock);
  const declared = first(headers, 'content-type');
  const [type, params] = declared ? parseContentType(declared) : sniffMultipart(body);
  const part: MimePart = { headers, type, params, body, parts: [] };
  if (depth >= MAX_DEPTH) return part;
  if (type.startsWith('multipart/')) {
    // A "boundary=" left unindented on its own line is lost to the header parser: sniff the body.
    const boundary = params.get('boundary') ?? sniffMultipart(body)[1].get('boundary');
    if (boundary) part.parts = splitMultipart(body, boundary).map((p) => parseEntity(p, depth + 1));
  } else if (type === 'message/rfc822' || type === 'message/global') {
    part.parts = [parseEntity(transferDecoded(part), depth + 1)];
  }
  return part;
}

/** Unfolds a header block into a name → values map. */
export function parseHeaders(block: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  let name = '';
  let value = '';
  const flush = (): void => {
    if (!name) return;
    const list = headers.get(name);
    if (list) list.push(value.trim());
    else headers.set(name, [value.trim()]);
  };
  let pos = 0;
  while (pos < block.length) {
    let end = block.indexOf('\n', pos);
    if (end === -1) end = block.length;
    const line = block.slice(pos, end);
    pos = end + 1;
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      if (name) value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || colon > 76) continue;
    flush();
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return headers;
}

/** First value of a header, or ''. */
export function first(headers: Map<string, string[]>, name: string): string {
  return headers.get(name)?.[0] ?? '';
}

/** First value of a header, RFC 2047 words decoded. */
export function headerText(headers: Map<string, string[]>, name: string): string {
  const v = first(headers, name);
  return v.includes('=?') ? decodeEncodedWords(v) : v;
}

/** Splits `type/subtype; a=b; c="d"` into the lower-cased type and its parameters. */
export function parseContentType(value: string): [string, Map<string, string>] {
  const params = new Map<string, string>();
  const semi = value.indexOf(';');
  // Some MTAs forget the ";" before a parameter ("text/plain charset=..."): the type is the first word.
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().split(/\s/)[0].toLowerCase() || 'text/plain';
  if (semi !== -1) {
    const re = /;\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))/g;
    const rest = value.slice(semi, semi + 4096);
    for (let m = re.exec(rest); m; m = re.exec(rest)) {
      params.set(m[1].toLowerCase(), m[2] ?? m[3] ?? '');
    }
  }
  return [type.includes('/') ? type : 'text/plain', params];
}

/** Some MTAs drop the top-level MIME headers but keep the parts: recover the boundary from the body. */
function sniffMultipart(body: string): [string, Map<string, string>] {
  // Only a delimiter right at the top counts: one deep in the text belongs to a quoted original.
  const m = /^--([0-9A-Za-z'()+_,./:=?-]{6,70})[ \t]*$/m.exec(body.slice(0, 400));
  if (m && body.indexOf('\n--' + m[1], m.index + m[0].length) !== -1) return ['multipart/mixed', new Map([['boundary', m[1]]])];
  return ['text/plain', new Map()];
}

function splitMultipart(body: string, boundary: string): string[] {
  const delim = '--' + boundary;
  const out: string[] = [];
  let pos = body.startsWith(delim) ? 0 : body.indexOf('\n' + delim);
  if (pos === -1) return [body];
  let start = -1;
  while (pos !== -1 && out.length < MAX_PARTS) {
    const at = body[pos] === '\n' ? pos + 1 : pos;
    if (start !== -1) out.push(body.slice(start, pos));
    const after = at + delim.length;
    if (body.startsWith('--', after)) return out;
    const eol = body.indexOf('\n', after);
    if (eol === -1) return out;
    start = eol + 1;
    pos = body.indexOf('\n' + delim, eol);
  }
  // A missing closing delimiter is common in truncated bounces: keep the last part.
  if (start !== -1 && out.length < MAX_PARTS) out.push(body.slice(start));
  return out;
}

/** The body with its Content-Transfer-Encoding undone, still as a binary string. */
export function transferDecoded(part: MimePart): string {
  const cte = first(part.headers, 'content-transfer-encoding').toLowerCase();
  if (cte.includes('base64')) return Buffer.from(part.body, 'base64').toString('latin1');
  if (cte.includes('quoted-printable')) return decodeQuotedPrintable(part.body);
  return part.body;
}

/** Undoes quoted-printable; invalid escapes are kept literally. */
export function decodeQuotedPrintable(s: string): string {
  if (s.indexOf('=') === -1) return s;
  // The lookbehind starts a soft break's whitespace only at the start of a run: without it every
  // position of a long run of spaces scanned the rest of the run (quadratic).
  return s.replace(/(?<![ \t])[ \t]*=\n|=([0-9A-Fa-f]{2})/g, (m, hex: string | undefined) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : '',
  );
}

/** Decoded text of a leaf part: transfer encoding, then charset. */
export function partText(part: MimePart): string {
  return decodeBytes(transferDecoded(part), part.params.get('charset') ?? '');
}
