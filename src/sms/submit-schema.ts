import { z } from 'zod';
import { planSms } from '../core/sms-encoding.js';
import { SubmitMessageInput } from '../send/submit-schema.js';
import { placeholders } from '../send/template.js';

/** Longer texts are refused: carriers drop or truncate concatenated messages past a few parts. */
export const MAX_SMS_SEGMENTS = 10;
const MAX_TEXT = 1_600;

/**
 * An SMS sender id: a short code or long number (digits, optional +), or an alphanumeric id of at
 * most 11 characters with at least one letter (GSM 03.40 TP-OA alphanumeric).
 */
export const SenderId = z
  .string()
  .min(1)
  .max(16)
  .refine((v) => /^\+?\d{3,15}$/.test(v) || (/^[A-Za-z0-9 .&'_-]{1,11}$/.test(v) && /[A-Za-z]/.test(v)), {
    message: 'must be a short code or number (3-15 digits, optional +) or an alphanumeric sender id of at most 11 letters, digits, spaces or .&\'_-',
  });

const shared = SubmitMessageInput.shape;

/** POST /v1/messages with `channel: "sms"`. The number is checked at submission (`erroneous`), not here. */
export const SubmitSmsInput = z
  .object({
    channel: z.literal('sms'),
    recipient: z.string().min(1).max(64),
    from: SenderId,
    text: z.string().min(1).max(MAX_TEXT).optional(),
    template: z.object({ text: z.string().min(1).max(MAX_TEXT) }).strict().optional(),
    variables: shared.variables,
    metadata: shared.metadata,
    tags: shared.tags,
    /** Links in the text become short tracked links unless click is false. */
    tracking: z.object({ click: z.boolean().optional() }).strict().optional(),
    client_key: shared.client_key,
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.text === undefined) === (v.template === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'give either text or template.text' });
      return;
    }
    if (v.template) {
      const vars = v.variables ?? {};
      const missing = placeholders(v.template.text).filter((n) => !Object.hasOwn(vars, n));
      if (missing.length > 0) ctx.addIssue({ code: 'custom', path: ['variables'], message: `missing template variables: ${missing.join(', ')}` });
      return;
    }
    const n = planSms(v.text ?? '').segments.length;
    if (n > MAX_SMS_SEGMENTS) ctx.addIssue({ code: 'custom', path: ['text'], message: `is ${n} SMS segments long; at most ${MAX_SMS_SEGMENTS}` });
  });

export type SubmitSmsInput = z.input<typeof SubmitSmsInput>;
export type SubmitSms = z.output<typeof SubmitSmsInput>;
