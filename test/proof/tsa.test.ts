import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { runProof } from '../../src/cli/proof.js';
import { appendEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Bundle } from '../../src/proof/bundle.js';
import { signCheckpoints } from '../../src/proof/checkpoints.js';
import { exportBundle } from '../../src/proof/export.js';
import { checkpointMessage } from '../../src/proof/format.js';
import { resolveProofKey } from '../../src/proof/keys.js';
import { stampCheckpoints } from '../../src/proof/tsa.js';
import { verifyBundle } from '../../src/proof/verify.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

const exec = promisify(execFile);
const KEY_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const dir = mkdtempSync(join(tmpdir(), 'mt-tsa-'));
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => exec('openssl', args, { cwd: dir });

/** A CA and a time-stamping certificate it issued, made with openssl for this run. */
async function makePki(prefix: string): Promise<void> {
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${prefix}ca.key`, '-out', `${prefix}ca.crt`,
    '-subj', `/CN=${prefix}Test TSA CA`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${prefix}tsa.key`, '-out', `${prefix}tsa.csr`, '-subj', `/CN=${prefix}Test TSA`);
  writeFileSync(f('ext.cnf'), 'extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n');
  await openssl('x509', '-req', '-in', `${prefix}tsa.csr`, '-CA', `${prefix}ca.crt`, '-CAkey', `${prefix}ca.key`, '-CAcreateserial', '-out', `${prefix}tsa.crt`, '-days', '2', '-extfile', 'ext.cnf');
}

/** OpenSSL's own TSA (`openssl ts -reply`) behind a tiny HTTP responder. */
async function startTsa(): Promise<Server> {
  writeFileSync(f('serial'), '01\n');
  writeFileSync(
    f('ts.cnf'),
    `[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = ${f('serial')}\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\nordering = yes\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n`,
  );
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = ++n;
      writeFileSync(f(`q${id}.tsq`), Buffer.concat(chunks));
      openssl('ts', '-reply', '-config', 'ts.cnf', '-queryfile', `q${id}.tsq`, '-inkey', 'tsa.key', '-signer', 'tsa.crt', '-out', `r${id}.tsr`).then(
        () => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(readFileSync(f(`r${id}.tsr`))),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe(`RFC 3161 timestamps of checkpoints from a real TSA on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  let tsa: Server;
  let tenantId: string;
  beforeAll(async () => {
    await makePki('');
    await makePki('other-');
    tsa = await startTsa();
    t = await testApp({
      MAILTRAIL_PROOF_PRIVATE_KEY: KEY_PEM,
      MAILTRAIL_TSA_URL: `http://127.0.0.1:${(tsa.address() as AddressInfo).port}/tsa`,
      MAILTRAIL_TSA_CA_FILE: f('ca.crt'),
    });
    app = t.app;
    tenantId = (await ensureTenant(app.database.db, 'stamped')).id;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => tsa?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const addEvents = async () => {
    const m = await insertMessage(app.database.db, tenantId);
    await app.database.db.transaction().execute((trx) => appendEvents(trx, m, [{ type: 'sent', occurredAt: app.clock.now(), source: 'send' }]));
    await signCheckpoints(app.database.db, resolveProofKey(app.config), app.clock.now());
  };
  const caPem = () => readFileSync(f('ca.crt'), 'utf8');
  const clone = (b: Bundle): Bundle => JSON.parse(JSON.stringify(b)) as Bundle;

  it('stamps each signed checkpoint, the bundle carries the token, and openssl ts -verify agrees', async () => {
    await addEvents();
    expect(await stampCheckpoints(app)).toBe(1);
    const bundle = await exportBundle(app, tenantId, { sign: false });
    expect(bundle.format).toBe('mailtrail-proof-bundle/2');
    expect(bundle.timestamps).toHaveLength(1);
    const r = verifyBundle(bundle, { trustedKeyPem: KEY_PEM, tsaCaPem: caPem() });
    expect(r.problems).toEqual([]);
    expect(r.timestamps).toHaveLength(1);
    expect(r.coverage).toEqual([expect.objectContaining({ from: 1, to: 1, tsa: expect.objectContaining({ name: 'CN=Test TSA' }) })]);

    // The independent check: OpenSSL verifies the same token over the checkpoint's statement.
    const cp = bundle.checkpoints[0];
    writeFileSync(f('statement'), checkpointMessage({ ...cp, at: new Date(cp.at) }));
    writeFileSync(f('token.der'), Buffer.from(bundle.timestamps?.[0].token_base64 ?? '', 'base64'));
    const { stdout } = await openssl('ts', '-verify', '-data', 'statement', '-in', 'token.der', '-token_in', '-CAfile', 'ca.crt', '-untrusted', 'tsa.crt');
    expect(stdout).toMatch(/Verification: OK/);

    // The CLI says which entries a third party's time covers.
    writeFileSync(f('bundle.json'), JSON.stringify(bundle));
    writeFileSync(f('key.pem'), resolveProofKey(app.config).publicPem);
    const out = new PassThrough();
    const code = await runProof(['verify', f('bundle.json'), '--key', f('key.pem'), '--tsa-ca', f('ca.crt')], { stdout: out, stderr: new PassThrough(), env: {} });
    expect(code).toBe(0);
    expect(String(out.read())).toMatch(/time: entries 1\.\.1 existed by \S+, by the time-stamping authority CN=Test TSA/);
  });

  it('refuses a forged token, a token for another checkpoint, and a TSA the verifier does not trust', async () => {
    await addEvents();
    expect(await stampCheckpoints(app)).toBe(1);
    const bundle = await exportBundle(app, tenantId, { sign: false });
    expect(verifyBundle(bundle, { trustedKeyPem: KEY_PEM, tsaCaPem: caPem() }).problems).toEqual([]);
    const [first, second] = bundle.timestamps ?? [];

    const forged = clone(bundle);
    const bytes = Buffer.from(second.token_base64, 'base64');
    bytes[bytes.length - 5] ^= 0x01; // inside the signature
    (forged.timestamps ?? [])[1].token_base64 = bytes.toString('base64');
    expect(verifyBundle(forged, { trustedKeyPem: KEY_PEM, tsaCaPem: caPem() }).problems.map((p) => p.problem).join('\n')).toMatch(/signature does not verify|not a timestamp token/);

    const swapped = clone(bundle);
    (swapped.timestamps ?? [])[1].token_base64 = first.token_base64;
    expect(verifyBundle(swapped, { trustedKeyPem: KEY_PEM, tsaCaPem: caPem() }).problems.map((p) => `${p.at}: ${p.problem}`)).toEqual([
      `timestamp of checkpoint ${second.seq}: its imprint is not the hash of this checkpoint: the token is for something else`,
    ]);

    const other = verifyBundle(bundle, { trustedKeyPem: KEY_PEM, tsaCaPem: readFileSync(f('other-ca.crt'), 'utf8') });
    expect(other.problems.map((p) => p.problem)).toEqual([expect.stringMatching(/not issued by a CA you trust/), expect.stringMatching(/not issued by a CA you trust/)]);

    // A version 1 bundle (no timestamps) still verifies, its entries covered by our clock only.
    const v1 = clone(bundle);
    v1.format = 'mailtrail-proof-bundle/1';
    delete v1.timestamps;
    const r1 = verifyBundle(v1, { trustedKeyPem: KEY_PEM });
    expect(r1.problems).toEqual([]);
    expect(r1.coverage.every((c) => c.tsa === null)).toBe(true);
  });

  it('a TSA that is down delays only the timestamps: retried, counted, shown in /readyz; the chain goes on', async () => {
    const url = app.config.MAILTRAIL_TSA_URL;
    await new Promise((resolve) => tsa.close(resolve));
    await addEvents();
    expect(await stampCheckpoints(app)).toBe(0);
    const row = await app.database.db.selectFrom('proof_timestamps').selectAll().where('token', 'is', null).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ attempts: 1, tsa_url: url });
    expect(row.last_error).toMatch(/unreachable/);
    expect(row.next_attempt_at.getTime()).toBeGreaterThan(Date.now());
    expect(await app.metrics.getSingleMetricAsString('mailtrail_proof_tsa_failures_total')).toMatch(/ 1$/m);
    const http = await buildHttp(app);
    const ready = await http.inject({ method: 'GET', url: '/readyz' });
    await http.close();
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ok: true, proof_timestamps: { pending: 1, last_error: expect.stringMatching(/unreachable/) } });

    // Ingest went on: the bundle verifies, the unstamped checkpoint's entries on our clock only.
    await addEvents();
    const r = verifyBundle(await exportBundle(app, tenantId, { sign: false }), { trustedKeyPem: KEY_PEM, tsaCaPem: caPem() });
    expect(r.problems).toEqual([]);
    expect(r.coverage.filter((c) => c.tsa === null).length).toBeGreaterThanOrEqual(1);

    // Back up: the retry stamps it.
    tsa = await startTsa();
    await app.database.db.updateTable('proof_timestamps').set({ next_attempt_at: new Date(0) }).where('token', 'is', null).execute();
    const port = (tsa.address() as AddressInfo).port;
    (app.config as { MAILTRAIL_TSA_URL?: string }).MAILTRAIL_TSA_URL = `http://127.0.0.1:${port}/tsa`;
    expect(await stampCheckpoints(app)).toBeGreaterThanOrEqual(1);
  });
});
