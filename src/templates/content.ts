import { createHash } from 'node:crypto';
import { planSms } from '../core/sms-encoding.js';
import { compileMjml } from './mjml.js';
import { checkSyntax, renderPart, type EngineKind } from './render.js';
import { checkDeclarations, inferVariables, validateValues, type VariableDecl, type VariableIssue, type VariableValue } from './variables.js';

/** What an author writes for one version. */
export interface TemplateContent {
  subject?: string | null;
  html?: string | null;
  html_format?: 'html' | 'mjml';
  text?: string | null;
  sms_text?: string | null;
  /** Omitted: inferred from the parts (every name a required text), editable afterwards. */
  variables?: VariableDecl[];
  /** For money and number formatting, e.g. fr-FR. */
  locale?: string;
}

/** A version's content as stored, MJML already compiled. */
export interface PreparedContent {
  subject: string | null;
  html: string | null;
  html_format: 'html' | 'mjml';
  html_compiled: string | null;
  text_body: string | null;
  sms_text: string | null;
  variables: VariableDecl[];
  locale: string;
}

export type ContentProblem = { field: string; message: string };

/** The parts and the engine each is rendered with. */
function parts(c: Pick<PreparedContent, 'subject' | 'html_compiled' | 'text_body' | 'sms_text'>): Array<[string, EngineKind, string]> {
  const out: Array<[string, EngineKind, string]> = [];
  if (c.subject) out.push(['subject', 'text', c.subject]);
  if (c.html_compiled) out.push(['html', 'html', c.html_compiled]);
  if (c.text_body) out.push(['text', 'text', c.text_body]);
  if (c.sms_text) out.push(['sms_text', 'text', c.sms_text]);
  return out;
}

/**
 * Checks a version's content at save: the channel's required parts, Liquid syntax of each part,
 * MJML compiled (once, here), declarations covering every name used.
 */
export async function prepareContent(channel: 'email' | 'sms', c: TemplateContent): Promise<{ ok: true; content: PreparedContent } | { ok: false; problem: ContentProblem }> {
  const bad = (field: string, message: string) => ({ ok: false as const, problem: { field, message } });
  if (channel === 'email') {
    if (!c.subject) return bad('subject', 'an email template needs a subject');
    if (!c.html && !c.text) return bad('html', 'an email template needs html or text (or both)');
    if (/[\r\n]/.test(c.subject)) return bad('subject', 'must not contain line breaks');
  } else if (!c.sms_text) return bad('sms_text', 'an SMS template needs sms_text');
  const format = c.html_format ?? 'html';
  let compiled = c.html ?? null;
  if (c.html && format === 'mjml') {
    const m = await compileMjml(c.html);
    if (!m.ok) return bad('html', `MJML: ${m.error}`);
    compiled = m.html;
  }
  const prepared: PreparedContent = {
    subject: c.subject ?? null,
    html: c.html ?? null,
    html_format: format,
    html_compiled: compiled,
    text_body: c.text ?? null,
    sms_text: c.sms_text ?? null,
    variables: [],
    locale: c.locale ?? 'en',
  };
  for (const [field, kind, source] of parts(prepared)) {
    const e = checkSyntax(kind, source);
    if (e) return bad(field, e);
  }
  const sources = parts(prepared).map((p) => p[2]);
  prepared.variables = c.variables ?? inferVariables(sources);
  const issue = checkDeclarations(prepared.variables, sources)[0];
  if (issue) return bad(`variables.${issue.variable}`, `${issue.variable}: ${issue.message}`);
  return { ok: true, content: prepared };
}

export interface Rendered {
  subject: string | null;
  html: string | null;
  text: string | null;
  sms: string | null;
  /** sha256 (hex) of the rendered parts: what the proof chain records for the message. */
  sha256: string;
  /** The agent wrote free text into it: the message needs a release. */
  freeText: boolean;
  /** SMS only. */
  segments?: number;
}

export type RenderOutcome = { ok: true; rendered: Rendered } | { ok: false; issues: VariableIssue[] };

/**
 * Renders a version with submitted values: values validated against its declarations first
 * (each problem names its variable), then every part with its engine. `strict` (preview,
 * approval) also fails on a name not in scope.
 */
export function renderVersion(c: PreparedContent, values: Readonly<Record<string, VariableValue>>, strict: boolean): RenderOutcome {
  const v = validateValues(c.variables, values, c.locale);
  if (!v.ok) return v;
  const out: Record<string, string | null> = { subject: null, html: null, text: null, sms_text: null };
  for (const [field, kind, source] of parts(c)) {
    const r = renderPart(kind, source, v.scope, strict);
    if (!r.ok) return { ok: false, issues: [{ variable: field, message: r.error }] };
    out[field] = r.output;
  }
  // A subject is one header line, whatever the values held.
  const subject = out.subject === null ? null : out.subject.replace(/[\r\n]+/g, ' ').trim();
  const rendered: Rendered = {
    subject,
    html: out.html,
    text: out.text,
    sms: out.sms_text,
    sha256: contentHash({ subject, html: out.html, text: out.text, sms: out.sms_text }),
    freeText: v.freeText,
  };
  if (out.sms_text !== null) rendered.segments = planSms(out.sms_text).segments.length;
  return { ok: true, rendered };
}

/** sha256 of the rendered parts in a fixed order, so the same content always hashes the same. */
export function contentHash(p: { subject: string | null; html: string | null; text: string | null; sms: string | null }): string {
  return createHash('sha256').update(JSON.stringify([p.subject, p.html, p.text, p.sms])).digest('hex');
}
