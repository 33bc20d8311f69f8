import { usedVariables } from './render.js';

/**
 * Variable types a version declares. `paragraphs`: optional paragraphs the agent picks from the
 * version's list (approved text, chosen per message); `free_text`: a paragraph the agent writes,
 * which makes the message wait for a person's release (per-message approval).
 */
export const VARIABLE_TYPES = ['text', 'number', 'date', 'money', 'enum', 'paragraphs', 'free_text'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

export interface VariableDecl {
  name: string;
  type: VariableType;
  required: boolean;
  /** Used when the value is not given (it is validated like a given value). */
  default?: string | number | string[];
  /** enum: the allowed values. */
  options?: string[];
  /** paragraphs: the approved paragraphs, chosen by key. */
  paragraphs?: Array<{ key: string; text: string }>;
  /** money: ISO 4217 code (default EUR). */
  currency?: string;
  description?: string;
}

export type VariableValue = string | number | boolean | null | string[];

export interface VariableIssue {
  variable: string;
  message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_TEXT = 10_000;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const DECIMAL = /^-?\d{1,15}(\.\d{1,2})?$/;

/** The names the parts read, in first-use order: the starting declaration of a new template (all text, required). */
export function inferVariables(sources: readonly string[]): VariableDecl[] {
  const names = [...new Set(sources.flatMap((s) => usedVariables(s)))];
  return names.map((name) => ({ name, type: 'text', required: true }));
}

/**
 * Problems of a version's declarations against its parts: a name used but not declared (it
 * would render blank), a bad name, an enum without options, a default of the wrong type.
 */
export function checkDeclarations(decls: readonly VariableDecl[], sources: readonly string[]): VariableIssue[] {
  const issues: VariableIssue[] = [];
  const seen = new Set<string>();
  for (const d of decls) {
    if (!NAME.test(d.name)) issues.push({ variable: d.name, message: 'a variable name is letters, digits and _, not starting with a digit, at most 64' });
    if (seen.has(d.name)) issues.push({ variable: d.name, message: 'declared twice' });
    seen.add(d.name);
    if (d.type === 'enum' && !(d.options && d.options.length > 0)) issues.push({ variable: d.name, message: 'an enum needs options' });
    if (d.type === 'paragraphs' && !(d.paragraphs && d.paragraphs.length > 0)) issues.push({ variable: d.name, message: 'a paragraph choice needs paragraphs' });
    if (d.default !== undefined) {
      const r = coerce(d, d.default, 'en');
      if (!r.ok) issues.push({ variable: d.name, message: `default: ${r.message}` });
    }
  }
  const used = [...new Set(sources.flatMap((s) => usedVariables(s)))];
  for (const name of used) if (!seen.has(name)) issues.push({ variable: name, message: 'used by the template but not declared' });
  return issues;
}

export type ValuesResult = { ok: true; scope: Record<string, unknown>; freeText: boolean } | { ok: false; issues: VariableIssue[] };

/**
 * Checks submitted values against the declarations and turns them into the render scope: numbers
 * as numbers, money formatted in the version's locale, a paragraph choice as the chosen texts.
 * A missing required value or a value of the wrong type is an issue naming the variable, never
 * a blank in the letter; so is a value for a name the version does not declare (a typo).
 *
 * @example validateValues([{name:'rate',type:'number',required:true}], {rate:'x'}, 'en') // issue on rate
 */
export function validateValues(decls: readonly VariableDecl[], values: Readonly<Record<string, VariableValue>>, locale: string): ValuesResult {
  const issues: VariableIssue[] = [];
  const scope: Record<string, unknown> = Object.create(null);
  let freeText = false;
  const declared = new Set(decls.map((d) => d.name));
  for (const name of Object.keys(values)) if (!declared.has(name)) issues.push({ variable: name, message: 'not a variable of this template version' });
  for (const d of decls) {
    const given = Object.hasOwn(values, d.name) ? values[d.name] : undefined;
    const raw = given === undefined || given === null || given === '' ? d.default : given;
    if (raw === undefined) {
      if (d.required) issues.push({ variable: d.name, message: 'required' });
      // Declared optional and absent: nil, so `{% if name %}` sections drop out.
      else scope[d.name] = d.type === 'paragraphs' ? [] : null;
      continue;
    }
    const r = coerce(d, raw, locale);
    if (!r.ok) issues.push({ variable: d.name, message: r.message });
    else {
      scope[d.name] = r.value;
      if (d.type === 'free_text' && typeof r.value === 'string' && r.value.trim() !== '') freeText = true;
    }
  }
  return issues.length ? { ok: false, issues } : { ok: true, scope, freeText };
}

/** Example values for a preview without given values: each declaration's default or a sample of its type. */
export function sampleValues(decls: readonly VariableDecl[]): Record<string, VariableValue> {
  const out: Record<string, VariableValue> = {};
  for (const d of decls) {
    if (d.default !== undefined) out[d.name] = d.default;
    else if (d.type === 'number') out[d.name] = 42;
    else if (d.type === 'money') out[d.name] = '123.45';
    else if (d.type === 'date') out[d.name] = '2026-01-31';
    else if (d.type === 'enum') out[d.name] = d.options?.[0] ?? '';
    else if (d.type === 'paragraphs') out[d.name] = (d.paragraphs ?? []).map((p) => p.key);
    else out[d.name] = `[${d.name}]`;
  }
  return out;
}

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

function coerce(d: VariableDecl, v: VariableValue, locale: string): Coerced {
  switch (d.type) {
    case 'text':
    case 'free_text':
      if (typeof v !== 'string' && typeof v !== 'number') return { ok: false, message: 'must be a string' };
      return String(v).length > MAX_TEXT ? { ok: false, message: `must be at most ${MAX_TEXT} characters` } : { ok: true, value: String(v) };
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, message: 'must be a number' };
    }
    case 'date':
      if (typeof v !== 'string' || !DATE.test(v) || Number.isNaN(Date.parse(v))) return { ok: false, message: 'must be a date, e.g. 2026-01-31 or 2026-01-31T09:30:00Z' };
      return { ok: true, value: v };
    case 'money': {
      const s = typeof v === 'number' ? String(v) : v;
      if (typeof s !== 'string' || !DECIMAL.test(s)) return { ok: false, message: 'must be an amount with at most 2 decimals, e.g. 12.50' };
      const currency = d.currency ?? 'EUR';
      try {
        return { ok: true, value: new Intl.NumberFormat(locale, { style: 'currency', currency }).format(Number(s)) };
      } catch {
        return { ok: false, message: `unknown currency ${currency}` };
      }
    }
    case 'enum':
      return typeof v === 'string' && (d.options ?? []).includes(v)
        ? { ok: true, value: v }
        : { ok: false, message: `must be one of ${(d.options ?? []).join(', ')}` };
    case 'paragraphs': {
      const keys = typeof v === 'string' ? [v] : Array.isArray(v) ? v : null;
      if (!keys) return { ok: false, message: 'must be a list of paragraph keys' };
      const byKey = new Map((d.paragraphs ?? []).map((p) => [p.key, p.text]));
      const unknown = keys.filter((k) => !byKey.has(k));
      if (unknown.length) return { ok: false, message: `unknown paragraph ${unknown.join(', ')}; one of ${[...byKey.keys()].join(', ')}` };
      return { ok: true, value: keys.map((k) => byKey.get(k)) };
    }
  }
}
