import { z } from 'zod';
import { EVENT_TYPES } from '../core/events.js';
import { STATUSES } from '../core/status.js';

/** Schemas shared by several operations. */
export const ErrorBody = z.object({
  error: z.string().meta({ description: 'machine-readable code, e.g. validation_error, not_found, unauthorized' }),
  message: z.string(),
  field: z.string().optional().meta({ description: 'the offending field, for validation_error' }),
  request_id: z.string(),
});

export const Timestamp = z.string().meta({ format: 'date-time' });
export const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
export const IdParams = z.object({ id: Uuid });
export const StatusEnum = z.enum(STATUSES);
export const EventTypeEnum = z.enum(EVENT_TYPES);

/** A query-string date: ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z, or a plain date. */
export const QueryDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be an ISO 8601 date, e.g. 2026-01-31 or 2026-01-31T12:00:00Z')
  .transform((v) => new Date(v))
  .refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date');

export const Limit = z.coerce.number().int().min(1).max(1000).default(100);
export const Cursor = z.string().max(200).meta({ description: 'next_cursor of the previous page' });

export const Page = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable().meta({ description: 'null on the last page' }) });

export const errorResponses = {
  400: { description: 'invalid request: `field` names the offending field', schema: ErrorBody },
  401: { description: 'missing, unknown or revoked API key', schema: ErrorBody },
} as const;

export const notFound = { description: 'no such resource for this tenant', schema: ErrorBody } as const;

/** Error body in the shape every API error has. */
export function errorBody(requestId: string, error: string, message: string, field?: string) {
  return { error, message, ...(field ? { field } : {}), request_id: requestId };
}
