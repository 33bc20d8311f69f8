import { z } from 'zod';
import { checkEmailAddress, parseMailbox } from '../core/address.js';
import { findJsonTextIssue, jsonTextMessage } from '../core/json-text.js';
import { placeholders } from './template.js';

const MAX_BODY = 1_000_000;
const MAX_METADATA_JSON = 8_192;
const MAX_METADATA_DEPTH = 16;
const noLineBreaks = (v: string) => !/[\r\n]/.test(v);
// A quoted local part the mail library would rewrite is a request error, not an `erroneous`
// message: what went out would be another address than the one stored and checked.
const sentAsGiven = (v: string) => {
  const c = checkEmailAddress(v);
  return c.ok || c.problem !== 'local_quoted';
};

const templateValue = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);

/** `template: { key | version_id, variables }`: values are checked against the version's declarations. */
export const StoredTemplateRef = z
  .object({
    key: z.string().min(1).max(100).optional(),
    version_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID').optional(),
    variables: z.record(z.string().max(64), z.union([templateValue, z.array(z.string().max(100)).max(100)])).optional(),
  })
  .strict()
  .refine((t) => (t.key === undefined) !== (t.version_id === undefined), 'give either key or version_id');
export type StoredTemplateRef = z.output<typeof StoredTemplateRef>;

export function isStoredTemplate(t: unknown): t is StoredTemplateRef {
  return typeof t === 'object' && t !== null && ('key' in t || 'version_id' in t);
}

/**
 * What a sender submits (POST /v1/messages). The recipient is only length-checked here (and
 * refused when it could not be sent as given): a bad address is not a request error but the
 * `erroneous` outcome, recorded with its reason.
 */
export const SubmitMessageInput = z
  .object({
    /** Email is the default channel; `sms` bodies follow src/sms/submit-schema.ts. */
    channel: z.literal('email').optional(),
    recipient: z
      .string()
      .min(1)
      .max(1_000)
      .refine(sentAsGiven, 'a quoted part before @ may hold only letters, digits, dots, inner spaces and !#$%&\'*+/=?^_`{|}~-'),
    /** `addr@example.com` or `Display Name <addr@example.com>`. */
    from: z
      .string()
      .max(998)
      .refine((v) => parseMailbox(v) !== null, 'must be an email address, optionally as `Name <address>`'),
    subject: z.string().max(998).refine(noLineBreaks, 'must not contain line breaks').optional(),
    html: z.string().max(MAX_BODY).optional(),
    text: z.string().max(MAX_BODY).optional(),
    /** Placeholders `{{name}}` filled from `variables`; HTML values are escaped. */
    template: z
      .union([
        z
          .object({
            subject: z.string().max(998).optional(),
            html: z.string().max(MAX_BODY).optional(),
            text: z.string().max(MAX_BODY).optional(),
          })
          .strict(),
        /** A catalogue template (src/templates): its active version by key, or one version by id. */
        StoredTemplateRef,
      ])
      .optional(),
    variables: z.record(z.string().max(64), templateValue).optional(),
    metadata: z
      .record(z.string().max(128), z.unknown())
      .superRefine((v, ctx) => {
        // Depth first, without recursion: serializing 10,000 levels would throw (a 500), not refuse.
        const bad = findJsonTextIssue(v, MAX_METADATA_DEPTH);
        if (bad) {
          ctx.addIssue({ code: 'custom', path: bad.problem === 'too_deep' ? [] : bad.path, message: jsonTextMessage(bad.problem, MAX_METADATA_DEPTH) });
        } else if (JSON.stringify(v).length > MAX_METADATA_JSON) {
          ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_METADATA_JSON} bytes of JSON` });
        }
      })
      .optional(),
    tags: z
      .array(z.string().min(1).max(64).regex(/^[^\x00-\x1f\x7f]+$/, 'must not contain control characters'))
      .max(20)
      .optional(),
    /** Both on by default; each can be turned off for this message. */
    tracking: z.object({ open: z.boolean().optional(), click: z.boolean().optional() }).strict().optional(),
    /** Idempotency key: the same key for the same tenant returns the first message. */
    client_key: z.string().min(1).max(255).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (isStoredTemplate(v.template)) {
      if (v.subject !== undefined || v.html !== undefined || v.text !== undefined || v.variables !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['template'], message: 'a stored template brings its own subject and bodies; variables go in template.variables' });
      }
      return;
    }
    const t = v.template;
    if (t && (v.subject !== undefined || v.html !== undefined || v.text !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'give either template or subject/html/text, not both' });
      return;
    }
    const subject = t ? t.subject : v.subject;
    if (!subject) ctx.addIssue({ code: 'custom', path: [t ? 'template' : 'subject'], message: 'a subject is required' });
    if (!(t ? t.html || t.text : v.html || v.text)) {
      ctx.addIssue({ code: 'custom', path: [t ? 'template' : 'html'], message: 'html or text (or both) is required' });
    }
    if (!t) return;
    const vars = v.variables ?? {};
    const missing = placeholders(`${t.subject ?? ''}\n${t.html ?? ''}\n${t.text ?? ''}`).filter((n) => !Object.hasOwn(vars, n));
    if (missing.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['variables'], message: `missing template variables: ${missing.join(', ')}` });
    }
  });

/** The request body as sent. */
export type SubmitMessageInput = z.input<typeof SubmitMessageInput>;
/** After validation. */
export type SubmitMessage = z.output<typeof SubmitMessageInput>;
