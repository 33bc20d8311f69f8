import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isUuid } from '../../core/ids.js';
import { exportBundle } from '../../proof/export.js';
import { resolveProofKey } from '../../proof/keys.js';
import { verifyBundle } from '../../proof/verify.js';
import type { PageContext } from '../context.js';

/** A message's proof bundle (as `mailtrail proof export --message`), and its check with the operator's key. */
export function registerProofPages(pages: FastifyInstance, ctx: PageContext): void {
  const { app, db } = ctx;

  const messageOf = async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    const scope = ctx.viewerOf(req).tenantId;
    if (!isUuid(id)) return undefined;
    return db
      .selectFrom('messages')
      .select(['id', 'tenant_id', 'recipient'])
      .where('id', '=', id)
      .$if(scope !== null, (q) => q.where('tenant_id', '=', scope!))
      .executeTakeFirst();
  };

  pages.get('/messages/:id/proof', async (req, reply) => {
    const m = await messageOf(req);
    if (!m) return ctx.notFound(req, reply);
    const bundle = await exportBundle(app, m.tenant_id, { messageId: m.id });
    return reply
      .type('application/json')
      .header('content-disposition', `attachment; filename="proof-${m.id}.json"`)
      .header('cache-control', 'no-store')
      .send(JSON.stringify(bundle, null, 2));
  });

  pages.get('/messages/:id/proof/verify', async (req, reply) => {
    const m = await messageOf(req);
    if (!m) return ctx.notFound(req, reply);
    const key = resolveProofKey(app.config);
    // The bundle the download gives, checked the way a third party would: offline, against the published key.
    const result = verifyBundle(JSON.parse(JSON.stringify(await exportBundle(app, m.tenant_id, { messageId: m.id }))), { trustedKeyPem: key.publicPem });
    return ctx.render(reply, 'proof', { viewer: ctx.viewerOf(req), title: `Proof of the message to ${m.recipient}`, m, result, keyId: key.keyId });
  });
}
