import { z } from 'zod';
import { REACH_STATUSES, STOP_STATUSES, type Flow } from '../core/notification-state.js';
import { SubmitMessageInput } from '../send/submit-schema.js';

const DAY = 86_400_000;
/** Longest delay a step may wait: a reminder later than this is a new notification. */
export const MAX_DELAY_MS = 90 * DAY;
const MAX_STEPS = 8;

const Channel = z.enum(['email', 'sms']);
const Delay = z.number().int().min(0).max(MAX_DELAY_MS).meta({ description: `milliseconds, at most ${MAX_DELAY_MS} (90 days)` });
const StopOn = z.array(z.enum(STOP_STATUSES)).max(STOP_STATUSES.length).meta({
  description: 'statuses that end the flow; unsubscribed and complained always do. A reaching status (delivered, opened, clicked) ends it as reached',
});

const Advance = z.discriminatedUnion('when', [
  z
    .object({ when: z.literal('failed'), bounce: z.enum(['hard', 'any']).optional().meta({ description: 'hard: a soft final bounce does not hand over. Default any' }) })
    .strict()
    .meta({ description: 'the next step starts when this message ends erroneous, rejected or bounced' }),
  z
    .object({ when: z.literal('no_status'), statuses: z.array(z.enum(REACH_STATUSES)).min(1).max(3), within_ms: Delay })
    .strict()
    .meta({ description: 'the next step starts if this message reached none of `statuses` within `within_ms` of its start (or failed before)' }),
  z
    .object({ when: z.literal('always'), after_ms: Delay })
    .strict()
    .meta({ description: 'a reminder: the next step starts `after_ms` after this one (or when it fails, if sooner), unless the flow stopped' }),
]);

const CrossStep = z.object({ channel: Channel, next: Advance.optional(), stop_on: StopOn.optional() }).strict();

/** A flow as declared in a request or a flow definition; the same shape is stored. */
export const FlowSchema = z
  .discriminatedUnion('mode', [
    z
      .object({
        mode: z.literal('multi'),
        channels: z.array(Channel).min(1).max(2).refine((c) => new Set(c).size === c.length, 'each channel at most once'),
        stagger_ms: Delay.optional().meta({ description: 'channel i starts i × stagger_ms after the notification; default 0 (all at once)' }),
        stop_on: StopOn.optional(),
      })
      .strict(),
    z.object({ mode: z.literal('cross'), steps: z.array(CrossStep).min(1).max(MAX_STEPS) }).strict(),
  ])
  .meta({ description: 'multi: every channel now (optionally staggered); cross: ordered steps, each handing over on a condition' });

export type FlowInput = z.input<typeof FlowSchema>;

/** Only the fields the engine reads, whatever else a stored JSON holds. */
export function parseStoredFlow(v: unknown): Flow {
  return FlowSchema.parse(v) as Flow;
}

const ContentPart = z.record(z.string().max(64), z.unknown());

/**
 * POST /v1/notifications. Content per channel is the body of POST /v1/messages for that channel
 * without recipient and channel (checked with the same schemas when the notification is created).
 */
export const NotificationInput = z
  .object({
    recipient: z
      .object({ email: z.string().min(1).max(1_000).optional(), phone: z.string().min(1).max(64).optional() })
      .strict()
      .meta({ description: 'the person: an email address and/or a phone number (each needed by the flow\'s channels)' }),
    content: z
      .object({
        email: ContentPart.optional().meta({ description: 'from, subject, html/text or template + variables, tracking, tags (as POST /v1/messages)' }),
        sms: ContentPart.optional().meta({ description: 'from, text or template + variables, tracking, tags (as POST /v1/messages with channel sms)' }),
      })
      .strict(),
    flow: FlowSchema.optional(),
    flow_name: z.string().min(1).max(100).optional().meta({ description: "a tenant's flow definition; latest version unless flow_version" }),
    flow_version: z.number().int().min(1).optional(),
    metadata: SubmitMessageInput.shape.metadata,
    client_key: z.string().min(1).max(200).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.flow === undefined) === (v.flow_name === undefined)) ctx.addIssue({ code: 'custom', path: ['flow'], message: 'give either flow or flow_name' });
    if (v.flow_version !== undefined && v.flow_name === undefined) ctx.addIssue({ code: 'custom', path: ['flow_version'], message: 'needs flow_name' });
  });

export type NotificationInput = z.input<typeof NotificationInput>;

export const FlowName = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - (starting with a letter or digit)');
