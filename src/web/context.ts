import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { App } from '../app.js';
import { isUuid } from '../core/ids.js';
import type { DB, Tenant } from '../db/types.js';
import { audit, type Viewer } from './accounts.js';
import type { ApiOperations } from './operations.js';

/** What every dashboard page module gets from the plugin. */
export interface PageContext {
  app: App;
  db: Kysely<DB>;
  base: string;
  ops: ApiOperations;
  render(reply: FastifyReply, view: string, data: Record<string, unknown>, code?: number): FastifyReply | Promise<unknown>;
  notFound(req: FastifyRequest, reply: FastifyReply): unknown;
  viewerOf(req: FastifyRequest): Viewer;
  /**
   * A destructive action runs only once confirmed: without `confirm=yes` in the form, this answers
   * a page that says what will happen, whose form posts the same fields again with it; returns
   * null when the action may run.
   */
  confirmFirst(req: FastifyRequest, reply: FastifyReply, ask: Confirmation): unknown;
  /** Records a dashboard change (who, what, when, from where) in the audit log. */
  audit(req: FastifyRequest, action: string, entry?: { tenantId?: string | null; target?: string; data?: Record<string, unknown> }): Promise<void>;
}

export interface Confirmation {
  title: string;
  text: string;
  button: string;
  /** Dashboard path of the Cancel link. */
  cancel: string;
}

export function confirmer(render: PageContext['render'], viewerOf: PageContext['viewerOf']): PageContext['confirmFirst'] {
  return (req, reply, ask) => {
    if (field(req.body, 'confirm', 3) === 'yes') return null;
    const fields = Object.entries((req.body ?? {}) as Record<string, unknown>).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && e[0] !== '_csrf' && e[0] !== 'confirm',
    );
    return render(reply, 'confirm', { viewer: viewerOf(req), title: ask.title, ask, action: req.url, fields });
  };
}

export function auditor(db: Kysely<DB>, viewerOf: (req: FastifyRequest) => Viewer): PageContext['audit'] {
  return (req, action, entry = {}) => audit(db, viewerOf(req), { action, ip: req.ip, ...entry });
}

export interface Acting {
  /** The tenant the page shows and acts on; null only when no tenant exists yet. */
  tenant: Tenant | null;
  /** For an operator, every tenant (the picker); for a tenant user, only its own. */
  tenants: Tenant[];
}

/**
 * The tenant a tenant-scoped page (suppressions, webhooks, API keys) works on. A tenant user
 * always gets its own, whatever the request says; an operator picks one with `tenant=<id>` (in
 * the query, or a hidden field of a form), else the first by name.
 */
export async function actingTenant(db: Kysely<DB>, viewer: Viewer, asked: unknown): Promise<Acting> {
  if (viewer.tenantId !== null) {
    const own = await db.selectFrom('tenants').selectAll().where('id', '=', viewer.tenantId).executeTakeFirst();
    return { tenant: own ?? null, tenants: own ? [own] : [] };
  }
  const tenants = await db.selectFrom('tenants').selectAll().orderBy('name').limit(1000).execute();
  const chosen = typeof asked === 'string' && isUuid(asked) ? tenants.find((t) => t.id === asked) : undefined;
  return { tenant: chosen ?? tenants[0] ?? null, tenants };
}

/** Form fields and query parameters as strings (absent: undefined), never arrays or objects. */
export function field(source: unknown, name: string, max = 2000): string | undefined {
  const v = (source as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : undefined;
}
