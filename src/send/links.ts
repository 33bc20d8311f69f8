import { escapeHtml } from './template.js';

/**
 * Longer links are left as they are: the click token carries the URL, and tokens (and the
 * request lines that carry them) must stay bounded.
 */
const MAX_TRACKED_URL = 2_000;

// href of <a> and <area>, quoted either way. Unquoted values are rare in generated mail and left alone.
const HREF = /(<(?:a|area)\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')/gi;
const TEXT_URL = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = new Set('.,;:!?)]}');

/**
 * A text URL without the punctuation that ends its sentence. A loop from the end, not a `[…]+$`
 * regex: that one restarts at each character of a punctuation run not at the end, quadratic.
 */
function withoutTrailingPunctuation(s: string): string {
  let end = s.length;
  while (end > 0 && TRAILING_PUNCTUATION.has(s[end - 1])) end--;
  return s.slice(0, end);
}

const ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

function decodeAttribute(v: string): string {
  return v.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (_m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e.toLowerCase()];
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : '';
  });
}

/** An absolute http(s) URL we are willing to redirect to, normalized; null otherwise. */
export function trackableUrl(raw: string): string | null {
  const v = raw.trim();
  if (v.length > MAX_TRACKED_URL || !/^https?:\/\//i.test(v) || /[\x00-\x20\x7f\\]/.test(v)) return null;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' ? u.href : null;
  } catch {
    return null;
  }
}

export interface RewrittenBodies {
  html: string | null;
  text: string | null;
  /** Distinct links that were rewritten. */
  links: string[];
}

/**
 * Replaces every http(s) link of the HTML (href of a/area) and of the text part with
 * `rewrite(url)`. Other schemes (mailto:, tel:) and malformed or overlong URLs stay untouched.
 */
export function rewriteLinks(html: string | null, text: string | null, rewrite: (url: string) => string): RewrittenBodies {
  const links = new Set<string>();
  const outHtml =
    html === null
      ? null
      : html.replace(HREF, (whole, start: string, dq: string | undefined, sq: string | undefined) => {
          const url = trackableUrl(decodeAttribute(dq ?? sq ?? ''));
          if (!url) return whole;
          links.add(url);
          return `${start}"${escapeHtml(rewrite(url))}"`;
        });
  const outText =
    text === null
      ? null
      : text.replace(TEXT_URL, (whole) => {
          const core = withoutTrailingPunctuation(whole);
          const url = trackableUrl(core);
          if (!url) return whole;
          links.add(url);
          return rewrite(url) + whole.slice(core.length);
        });
  return { html: outHtml, text: outText, links: [...links] };
}

/** A 1x1 image just before </body> (or at the end): the open pixel. */
export function appendPixel(html: string, src: string): string {
  const img = `<img src="${escapeHtml(src)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
  const at = html.search(/<\/body\s*>/i);
  return at < 0 ? `${html}${img}` : `${html.slice(0, at)}${img}${html.slice(at)}`;
}
