import { z } from 'zod';
import { SETTINGS, type Env } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'MT_ERR_CONFIG';
  /** One line per bad setting, each naming its variable and how to fix it. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.length === 1 ? list[0] : `${list.length} settings need fixing:\n${list.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = list;
  }
}

/** The validated settings. Reads only the given env object, never process.env directly. */
export type Config = Env;

/**
 * Validates every setting; bad ones stop start-up together, one line each naming the variable,
 * e.g. `MAILTRAIL_HTTP_PORT: must be a port number 1-65535 (got "abc")`: a user fixes them all
 * in one go rather than discovering them one start at a time.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, s] of Object.entries(SETTINGS)) {
    const raw = env[name] === '' ? undefined : env[name];
    const value = raw ?? ('default' in s ? s.default : undefined);
    const r = (s.schema as z.ZodTypeAny).safeParse(value);
    if (!r.success) {
      const shown = (s as { secret?: boolean }).secret ? '' : ` (got ${JSON.stringify(value ?? '')})`;
      problems.push(`${name}: ${r.error.issues[0]?.message ?? 'invalid'}${shown}`);
    } else out[name] = r.data;
  }
  const unknown = Object.keys(env).filter((k) => k.startsWith('MAILTRAIL_') && !k.startsWith('MAILTRAIL_TEST_') && !(k in SETTINGS));
  for (const k of unknown) problems.push(`${k}: unknown setting (known: see \`mailtrail config docs\`)`);
  if (problems.length) throw new ConfigError(problems);
  return out as Config;
}

/** The effective config for display, secrets masked. */
export function describeConfig(config: Config): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, s] of Object.entries(SETTINGS)) {
    const v = (config as Record<string, unknown>)[name];
    if (v === undefined) shown[name] = '(unset)';
    else if ((s as { secret?: boolean }).secret) shown[name] = maskSecret(name, v);
    else shown[name] = showValue(v);
  }
  return shown;
}

/**
 * A parsed value as text: lists comma-joined, a range by its text (`10.0.0.0/8`), any other
 * structure as JSON (`{"count":3,"windowMs":604800000}`), never `[object Object]`.
 */
function showValue(v: unknown): string {
  if (Array.isArray(v)) return v.map(showValue).join(',');
  if (v === null || typeof v !== 'object') return String(v);
  const text = (v as { text?: unknown }).text;
  if (typeof text === 'string') return text;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
}

function maskSecret(name: string, v: unknown): string {
  // Parsed lists of endpoints (IMAP mailboxes) show their password-free ids.
  if (Array.isArray(v)) return v.map((x) => (x && typeof x === 'object' && 'id' in x ? `${String(x.id)} (password masked)` : '****')).join(', ');
  const text = String(v);
  if (/_URL$/.test(name)) return text.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, (_m, u) => `//${u}:****@`);
  return `**** (${text.length} chars)`;
}

/** Markdown table of every setting, for the README. */
export function configDocs(): string {
  const rows = Object.entries(SETTINGS).map(
    ([name, s]) => `| \`${name}\` | ${'default' in s ? `\`${s.default}\`` : '—'} | ${s.description} |`,
  );
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
