import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { apiKeyRoutes } from '../api/api-keys.js';
import { notificationRoutes } from '../api/notifications.js';
import { reportRoutes } from '../api/reports.js';
import { RequestValidationError, zodValidatorCompiler, type AnyRoute, type RouteContext } from '../api/route.js';
import { suppressionRoutes } from '../api/suppressions.js';
import { templateRoutes } from '../api/templates.js';
import { webhookRoutes } from '../api/webhooks.js';
import type { Tenant } from '../db/types.js';

export interface Outcome<T = unknown> {
  status: number;
  body: T;
  /** The API's own message for a refused request (validation, not found). */
  error: string | null;
}

/**
 * The API's operations, called in-process with the dashboard viewer's tenant. The dashboard thus
 * runs the same validation, tenant scoping and side effects (SSRF checks, key-cache eviction) as
 * /v1, with no second copy of that logic to drift.
 */
export class ApiOperations {
  private readonly byId: Map<string, AnyRoute>;

  constructor(app: App) {
    const routes = [...suppressionRoutes(app), ...reportRoutes(app), ...webhookRoutes(app), ...apiKeyRoutes(app), ...notificationRoutes(app), ...templateRoutes(app)];
    this.byId = new Map(routes.map((r) => [r.operationId, r]));
  }

  async call<T = unknown>(
    operationId: string,
    tenant: Tenant,
    req: FastifyRequest,
    input: { params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown } = {},
  ): Promise<Outcome<T>> {
    const route = this.byId.get(operationId);
    if (!route) throw new Error(`no API operation ${operationId}`);
    const parts: Record<string, unknown> = {};
    for (const [name, schema, httpPart, value] of [
      ['params', route.params, 'params', input.params],
      ['query', route.query, 'querystring', input.query ?? {}],
      ['body', route.body, 'body', input.body],
    ] as const) {
      if (!schema) continue;
      const r = zodValidatorCompiler({ schema, httpPart })(value);
      if ('error' in r && r.error) return { status: 400, body: undefined as T, error: r.error.message };
      parts[name] = (r as { value: unknown }).value;
    }
    const captured = new CapturedReply();
    try {
      const returned = await route.handler({ ...parts, tenant, req, reply: captured as unknown as FastifyReply } as RouteContext<never, never, never>);
      if (!captured.sent) captured.payload = returned;
    } catch (err) {
      if (err instanceof RequestValidationError) return { status: 400, body: undefined as T, error: err.message };
      throw err;
    }
    const failed = captured.statusCode >= 400;
    const message = failed ? String((captured.payload as { message?: unknown } | undefined)?.message ?? `refused (${captured.statusCode})`) : null;
    return { status: captured.statusCode, body: captured.payload as T, error: message };
  }
}

/** Just enough of a fastify reply for the API's handlers: status, headers, body. */
class CapturedReply {
  statusCode = 200;
  payload: unknown = undefined;
  sent = false;
  code(n: number) {
    this.statusCode = n;
    return this;
  }
  header() {
    return this;
  }
  type() {
    return this;
  }
  send(body?: unknown) {
    this.payload = body;
    this.sent = true;
    return this;
  }
}
