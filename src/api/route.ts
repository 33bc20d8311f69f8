import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findJsonTextIssue, jsonTextMessage } from '../core/json-text.js';
import type { Tenant } from '../db/types.js';
import { tenantOf } from './auth.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  tenant: Tenant;
  req: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One API operation. The same zod schemas validate the request (fastify's validator compiler,
 * see `zodValidatorCompiler`) and describe it in /openapi.json, so the two cannot drift.
 */
export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** Relative to /v1, fastify syntax: `/messages/:id`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  headers?: Record<string, { description: string; schema: z.ZodType }>;
  responses: Record<number, ResponseSpec>;
  bodyLimit?: number;
  handler(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown>;
}

export type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

/** Typed constructor: infers the handler's params/query/body from the schemas. */
export function defineRoute<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute {
  return spec as unknown as AnyRoute;
}

/** A request that failed its schema: 400 naming the first offending field. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'validation_error';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Deeper request JSON is refused whatever the field; metadata has its own, smaller limit. */
const MAX_REQUEST_DEPTH = 64;
const SOURCE_NAME: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** fastify validator compiler running zod; errors name the field (`recipient: Invalid input`). */
export function zodValidatorCompiler({ schema, httpPart }: { schema: unknown; httpPart?: string }) {
  const zs = schema as z.ZodType;
  return (data: unknown) => {
    // Before the schema, over the whole input: no string field (nor a metadata key at any depth)
    // can carry text the database refuses, and no nesting can exhaust a recursive walk.
    const bad = findJsonTextIssue(data, MAX_REQUEST_DEPTH);
    if (bad) {
      // Too deep: the field where it starts, not a path as long as the nesting.
      const path = bad.problem === 'too_deep' ? bad.path.slice(0, 3) : bad.path;
      const field = path.length ? path.join('.') : (SOURCE_NAME[httpPart ?? ''] ?? 'request');
      return { error: new RequestValidationError(field, `${field}: ${jsonTextMessage(bad.problem, MAX_REQUEST_DEPTH)}`) };
    }
    const r = zs.safeParse(data ?? undefined);
    if (r.success) return { value: r.data };
    const issue = closestIssue(r.error.issues);
    const field = issue?.path.length ? issue.path.join('.') : (SOURCE_NAME[httpPart ?? ''] ?? 'request');
    return { error: new RequestValidationError(field, `${field}: ${issue?.message ?? 'invalid'}`) };
  };
}

type Issue = z.core.$ZodIssue;

/**
 * The issue to report. For a union (e.g. one message or a batch), the branch the input most
 * likely meant: fewest issues, then the deepest path, so a batch with one bad item names
 * `messages.3.recipient` rather than "invalid input".
 */
function closestIssue(issues: readonly Issue[]): Issue | undefined {
  const first = issues[0];
  if (first?.code !== 'invalid_union' || first.errors.length === 0) return first;
  const depth = (b: readonly Issue[]) => Math.max(...b.map((i) => i.path.length));
  const best = [...first.errors].sort((a, b) => a.length - b.length || depth(b) - depth(a))[0];
  const inner = closestIssue(best);
  return inner ? { ...inner, path: [...first.path, ...inner.path] } : first;
}

/** Registers the operations on an encapsulated fastify instance (prefix /v1), each behind API-key auth. */
export function registerRoutes(
  api: FastifyInstance,
  routes: readonly AnyRoute[],
  authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
) {
  for (const r of routes) {
    api.route({
      method: r.method,
      url: r.url,
      bodyLimit: r.bodyLimit,
      schema: {
        ...(r.params ? { params: r.params } : {}),
        ...(r.query ? { querystring: r.query } : {}),
        ...(r.body ? { body: r.body } : {}),
      },
      onRequest: authenticate,
      handler: async (req, reply) => {
        const ctx = { params: req.params, query: req.query, body: req.body, tenant: tenantOf(req), req, reply };
        return r.handler(ctx as RouteContext<never, never, never>);
      },
    });
  }
}
