import mjml2html from 'mjml';

export type MjmlResult = { ok: true; html: string } | { ok: false; error: string };

/**
 * Compiles an MJML layout to HTML once, when a version is saved; the Liquid inside is kept and
 * rendered per message. Includes are off (a template never reads files) and validation is strict,
 * so a broken layout is refused at save rather than sent half-rendered.
 */
export async function compileMjml(source: string): Promise<MjmlResult> {
  try {
    const r = await mjml2html(source, { validationLevel: 'strict', ignoreIncludes: true, keepComments: false });
    return { ok: true, html: r.html };
  } catch (err) {
    const m = err instanceof Error ? err.message : String(err);
    return { ok: false, error: m.replace(/^ValidationError:\s*/, '').trim().split('\n')[0].slice(0, 500) };
  }
}
