import type { FastifyInstance } from 'fastify';
import type { App } from '../app.js';
import { resolveProofKey } from './keys.js';

/**
 * GET /v1/proof/public-key: the key that signs checkpoints, for anyone verifying a bundle. Public
 * on purpose (no API key). The key is resolved now, so a missing key stops start-up.
 */
export async function registerProof(http: FastifyInstance, app: App): Promise<void> {
  const key = resolveProofKey(app.config);
  const body = { algorithm: 'Ed25519', key_id: key.keyId, public_key_pem: key.publicPem };
  http.get('/v1/proof/public-key', async (req, reply) => {
    if (/\bapplication\/x-pem-file\b/.test(req.headers.accept ?? '')) return reply.type('application/x-pem-file').send(key.publicPem);
    return reply.header('cache-control', 'public, max-age=300').send(body);
  });
}
