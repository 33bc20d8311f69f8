/**
 * `{{name}}` placeholders, filled from the submission's variables. Deliberately logic-less: a
 * template is data from the sender, never code.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g;

export type TemplateValue = string | number | boolean | null;

/** Names used by a template text, in order of first use. */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Fills the placeholders; values are HTML-escaped when `html` is set. Unknown names become ''. */
export function renderTemplate(text: string, variables: Readonly<Record<string, TemplateValue>>, html: boolean): string {
  return text.replace(PLACEHOLDER, (_m, name: string) => {
    const v = Object.hasOwn(variables, name) ? variables[name] : null;
    const s = v === null ? '' : String(v);
    return html ? escapeHtml(s) : s;
  });
}
