import { Liquid, type Template } from 'liquidjs';

/**
 * Which engine renders a part: `html` escapes every output (a value holding `<script>` prints as
 * text); `text` (plain-text bodies, subjects, SMS) never escapes, so an apostrophe stays one.
 */
export type EngineKind = 'html' | 'text';

/** Templates are data from a tenant: bounded in size, time and allocations, with no file access. */
export const RENDER_LIMITS = {
  /** Characters of one template source. */
  parseChars: 200_000,
  /** Wall time of one render, ms. Generous: the machine is shared; a loop bomb needs far more. */
  renderMs: 2_000,
  /** LiquidJS allocation units (array/string growth) per render. */
  memory: 10_000_000,
  /** Tag/output renders per render call. */
  renders: 200_000,
} as const;

// include/render/layout would read other templates or files: a template is one self-contained text.
const refused = (name: string) => ({
  parse() {
    throw new Error(`the {% ${name} %} tag is not allowed in mailtrail templates`);
  },
  render() {
    return '';
  },
});

function engine(kind: EngineKind): Liquid {
  const liquid = new Liquid({
    strictFilters: true,
    ownPropertyOnly: true,
    outputEscape: kind === 'html' ? 'escape' : undefined,
    // An empty in-memory mapping: no lookup can reach the file system.
    templates: {},
    relativeReference: false,
    dynamicPartials: false,
    parseLimit: RENDER_LIMITS.parseChars,
    renderLimit: RENDER_LIMITS.renderMs,
    memoryLimit: RENDER_LIMITS.memory,
    timezoneOffset: 0,
  });
  for (const tag of ['include', 'render', 'layout']) liquid.registerTag(tag, refused(tag));
  return liquid;
}

const ENGINES: Record<EngineKind, Liquid> = { html: engine('html'), text: engine('text') };

// Versions are immutable, so a parsed source is reusable for every message rendered from it.
const PARSED_MAX = 1_000;
const parsed = new Map<string, Template[]>();

function parse(kind: EngineKind, source: string): Template[] {
  const k = `${kind}\0${source}`;
  const hit = parsed.get(k);
  if (hit) return hit;
  const t = ENGINES[kind].parse(source);
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  parsed.set(k, t);
  return t;
}

export type RenderResult = { ok: true; output: string } | { ok: false; error: string };

/** A source that does not parse (unknown tag, refused tag, too long), as a message; null when it parses. */
export function checkSyntax(kind: EngineKind, source: string): string | null {
  try {
    parse(kind, source);
    return null;
  } catch (err) {
    return errorText(err);
  }
}

/**
 * Renders one part. `strict` (preview, approval) makes an undefined variable an error; at send
 * time the values were validated against the declarations first, so every declared name is set.
 *
 * @example renderPart('html', 'Hi {{ name }}', { name: '<b>' }) // { ok: true, output: 'Hi &lt;b&gt;' }
 */
export function renderPart(kind: EngineKind, source: string, scope: Readonly<Record<string, unknown>>, strict = false): RenderResult {
  try {
    const t = parse(kind, source);
    // A null-prototype copy: nothing reachable by name but the values given.
    const own = Object.assign(Object.create(null) as Record<string, unknown>, scope);
    const output = ENGINES[kind].renderSync(t, own, {
      strictVariables: strict,
      ownPropertyOnly: true,
      templateLimit: RENDER_LIMITS.renders,
      renderLimit: RENDER_LIMITS.renderMs,
      memoryLimit: RENDER_LIMITS.memory,
    }) as string;
    return { ok: true, output };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** Top-level names a source reads from its scope (loop and assigned names excluded). */
export function usedVariables(source: string): string[] {
  return ENGINES.text.globalVariablesSync(parse('text', source));
}

function errorText(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  // LiquidJS appends the source excerpt on new lines: the first line says what and where.
  return m.split('\n')[0].slice(0, 500);
}
