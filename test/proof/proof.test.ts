import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { runProof } from '../../src/cli/proof.js';
import { appendEvents, type NewEvent } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { sha256Hex, contentHash } from '../../src/proof/canonical.js';
import type { Bundle } from '../../src/proof/bundle.js';
import { chainStoredReports } from '../../src/proof/chain.js';
import { checkChain } from '../../src/proof/check.js';
import { signCheckpoints } from '../../src/proof/checkpoints.js';
import { exportBundle } from '../../src/proof/export.js';
import { SYSTEM_CHAIN, entryHash, checkpointMessage } from '../../src/proof/format.js';
import { resolveProofKey } from '../../src/proof/keys.js';
import { proofCheckpointJob } from '../../src/proof/jobs.js';
import { purgeExpiredReports } from '../../src/proof/retention.js';
import { verifyBundle } from '../../src/proof/verify.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { fixtureParser, rawOf, report as fixtureReport } from '../ingest/fixtures.js';
import { createIngestor } from '../../src/ingest/ingest.js';
import { verpAddress } from '../../src/core/tokens.js';

const exec = promisify(execFile);
const KEY_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const tmp = mkdtempSync(join(tmpdir(), 'mt-proof-'));

let now = new Date('2026-03-01T10:00:00Z');
const clock = { now: () => new Date(now) };
const tick = (ms = 1000) => {
  now = new Date(now.getTime() + ms);
};

describe(`proof of events on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_PROOF_PRIVATE_KEY: KEY_PEM, MAILTRAIL_RAW_RETENTION: '30d' }, clock);
    app = t.app;
  });
  afterAll(async () => {
    await t.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const db = () => app.database.db;
  const append = (messageId: string, events: NewEvent[]) => db().transaction().execute((trx) => appendEvents(trx, messageId, events));
  const ev = (type: NewEvent['type'], extra: Partial<NewEvent> = {}): NewEvent => ({ type, occurredAt: clock.now(), source: 'tracking', ...extra });
  const sign = () => signCheckpoints(db(), resolveProofKey(app.config), clock.now());
  const clone = (b: Bundle): Bundle => JSON.parse(JSON.stringify(b)) as Bundle;
  const problems = (b: unknown, trustedKeyPem?: string) => verifyBundle(b, { trustedKeyPem }).problems.map((p) => `${p.at}: ${p.problem}`);

  /** A tenant with three messages and a few events each, under two checkpoints. */
  async function scenario(name: string) {
    const tenant = await ensureTenant(db(), name);
    const [a, b, c] = [await insertMessage(db(), tenant.id), await insertMessage(db(), tenant.id), await insertMessage(db(), tenant.id)];
    await append(a, [ev('sent', { source: 'send' }), ev('delivered', { source: 'timer' })]);
    await append(b, [ev('sent', { source: 'send' })]);
    tick();
    await sign();
    await append(a, [ev('opened', { data: { human: true, ua: 'Mozilla/5.0' } })]);
    await append(c, [ev('sent', { source: 'send' })]);
    await append(b, [ev('clicked', { data: { url: 'https://example.com/x' } })]);
    await append(a, [ev('clicked', { data: { url: 'https://example.com/y' } })]);
    tick();
    return { tenant, a, b, c };
  }

  /** Stores a raw report as ingest does: chained into the system chain in the same transaction (unless `chain` is false). */
  async function storeReport(raw: string, tenantId: string | null, chain = true) {
    const bytes = Buffer.from(raw);
    return db().transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('raw_reports')
        .values({ sha256: sha256Hex(bytes), raw: gzipSync(bytes), size: bytes.length, source: 'smtp', envelope: '{}', tenant_id: tenantId, received_at: clock.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (chain) await chainStoredReports(trx, [row.id]);
      return Number(row.id);
    });
  }

  async function withTriggersOff<T>(fn: () => Promise<T>): Promise<T> {
    await sql`alter table events disable trigger events_no_update`.execute(db());
    await sql`alter table proof_entries disable trigger proof_entries_no_update`.execute(db());
    await sql`alter table proof_checkpoints disable trigger proof_checkpoints_no_update`.execute(db());
    try {
      return await fn();
    } finally {
      await sql`alter table events enable trigger events_no_update`.execute(db());
      await sql`alter table proof_entries enable trigger proof_entries_no_update`.execute(db());
      await sql`alter table proof_checkpoints enable trigger proof_checkpoints_no_update`.execute(db());
    }
  }

  it('chains every event in tenant_seq order, in the same transaction, and the head is the last hash', async () => {
    const { tenant } = await scenario('chain');
    const entries = await db().selectFrom('proof_entries').selectAll().where('chain', '=', tenant.id).orderBy('seq').execute();
    const events = await db().selectFrom('events').select(['id', 'tenant_seq']).where('tenant_id', '=', tenant.id).orderBy('tenant_seq').execute();
    expect(entries.map((e) => e.event_id)).toEqual(events.map((e) => e.id));
    expect(entries.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    entries.forEach((e, i) => expect(e.prev_hash).toBe(i === 0 ? '0'.repeat(64) : entries[i - 1].hash));
    const head = await db().selectFrom('proof_chains').selectAll().where('chain', '=', tenant.id).executeTakeFirstOrThrow();
    expect([Number(head.seq), head.head]).toEqual([7, entries[6].hash]);

    // A failed transaction leaves neither the event nor its entry.
    const m = await insertMessage(db(), tenant.id);
    await expect(
      db().transaction().execute(async (trx) => {
        await appendEvents(trx, m, [ev('opened')]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(Number((await db().selectFrom('proof_chains').select('seq').where('chain', '=', tenant.id).executeTakeFirstOrThrow()).seq)).toBe(7);
    expect((await checkChain(app, tenant.id)).problems).toEqual([]);
  });

  it('concurrent writers of one tenant neither fork nor break the chain', async () => {
    const tenant = await ensureTenant(db(), 'concurrent');
    const other = await ensureTenant(db(), 'concurrent-other');
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => insertMessage(db(), i % 3 === 0 ? other.id : tenant.id)));
    await Promise.all(ids.flatMap((id) => [0, 1, 2, 3].map(() => append(id, [ev('opened'), ev('clicked')]))));
    for (const tn of [tenant, other]) {
      const seqs = (await db().selectFrom('proof_entries').select('seq').where('chain', '=', tn.id).orderBy('seq').execute()).map((r) => Number(r.seq));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      const r = await checkChain(app, tn.id);
      expect(r.problems).toEqual([]);
      expect(r.notes.join()).toMatch(/not under a signed checkpoint yet/);
    }
  });

  it('signs a checkpoint only for chains that grew, and no sooner than the interval', async () => {
    const { tenant, a } = await scenario('checkpoints');
    expect(await signCheckpoints(db(), resolveProofKey(app.config), clock.now(), { chain: tenant.id })).toBe(1);
    expect(await signCheckpoints(db(), resolveProofKey(app.config), clock.now(), { chain: tenant.id })).toBe(0);
    await append(a, [ev('opened')]);
    expect(await signCheckpoints(db(), resolveProofKey(app.config), clock.now(), { chain: tenant.id, minAgeMs: 60_000 })).toBe(0);
    tick(60_000);
    expect(await signCheckpoints(db(), resolveProofKey(app.config), clock.now(), { chain: tenant.id, minAgeMs: 60_000 })).toBe(1);
    const cps = await db().selectFrom('proof_checkpoints').selectAll().where('chain', '=', tenant.id).orderBy('seq').execute();
    expect(cps.map((c) => Number(c.seq))).toEqual([3, 7, 8]);
    expect(cps[2].key_id).toBe(resolveProofKey(app.config).keyId);
    // The worker job honours the configured interval (default 1 minute) and never spins.
    await append(a, [ev('opened')]);
    expect(await proofCheckpointJob.run(app, new AbortController().signal)).toBe(0);
    expect(await db().selectFrom('proof_checkpoints').select('seq').where('chain', '=', tenant.id).where('seq', '=', 9).execute()).toEqual([]);
    tick(60_000);
    await proofCheckpointJob.run(app, new AbortController().signal);
    expect(await db().selectFrom('proof_checkpoints').select('seq').where('chain', '=', tenant.id).where('seq', '=', 9).execute()).toHaveLength(1);
  });

  it('a full export verifies offline, against the key published at /v1/proof/public-key', async () => {
    const { tenant } = await scenario('export');
    const bundle = await exportBundle(app, tenant.id);
    const http = await buildHttp(app);
    const res = await http.inject({ method: 'GET', url: '/v1/proof/public-key' });
    await http.close();
    expect(res.statusCode).toBe(200);
    const published = res.json() as { algorithm: string; key_id: string; public_key_pem: string };
    const pem = await (await buildHttp(app)).inject({ method: 'GET', url: '/v1/proof/public-key', headers: { accept: 'application/x-pem-file' } });
    expect(pem.body).toBe(published.public_key_pem);
    expect(published.algorithm).toBe('Ed25519');
    expect(published.key_id).toBe(bundle.public_key.key_id);
    const r = verifyBundle(JSON.parse(JSON.stringify(bundle)), { trustedKeyPem: published.public_key_pem });
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, entries: 7, contents: 7, checkpoints: 2 });
    const stranger = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(problems(bundle, stranger).join()).toMatch(/not with the key you trust/);
  });

  it('a bundle of one message verifies on its own and carries no other message data', async () => {
    const { tenant, a, b, c } = await scenario('message');
    const bundle = clone(await exportBundle(app, tenant.id, { messageId: b }));
    const text = JSON.stringify(bundle);
    expect(text).not.toContain(a);
    expect(text).not.toContain(c);
    expect(text).not.toContain('example.com/y');
    const r = verifyBundle(bundle);
    expect(r.problems).toEqual([]);
    expect(r.contents).toBe(2);
    const contents = bundle.segments.flatMap((s) => s.entries.filter((e) => e.content).map((e) => e.content as { message_id: string; type: string }));
    expect(contents.map((x) => [x.message_id, x.type])).toEqual([
      [b, 'sent'],
      [b, 'clicked'],
    ]);
    // Passing someone else's event off as this message's is caught.
    const foreign = clone(await exportBundle(app, tenant.id, { messageId: a }));
    foreign.scope.message = b;
    expect(problems(foreign).join()).toMatch(/outside the bundle's scope/);
  });

  it('after a key rotation, bundles are signed with the new key and old history still verifies', async () => {
    const { tenant, a } = await scenario('rotation');
    await sign();
    const rotatedPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const rotated = createApp({
      config: { ...app.config, MAILTRAIL_PROOF_PRIVATE_KEY: rotatedPem },
      database: app.database,
      log: app.log,
      secret: app.secret,
      clock,
    });
    // Until the chain grows, nothing is signed by the new key: such a bundle proves nothing.
    const early = await exportBundle(rotated, tenant.id, { messageId: a });
    expect(problems(early).join()).toMatch(/is not covered by any signed checkpoint/);
    expect((await checkChain(rotated, tenant.id)).notes.join()).toMatch(/not under a signed checkpoint yet/);
    await append(a, [ev('opened')]);
    const bundle = await exportBundle(rotated, tenant.id, { messageId: a });
    const r = verifyBundle(clone(bundle), { trustedKeyPem: resolveProofKey(rotated.config).publicPem });
    expect(r.problems).toEqual([]);
    expect(r.contents).toBe(5);
    expect(bundle.checkpoints.map((c) => c.key_id)).toEqual([resolveProofKey(rotated.config).keyId]);
    expect((await checkChain(rotated, tenant.id)).problems).toEqual([]);
  });

  it('a time-range export covers the entries recorded in the window', async () => {
    const { tenant } = await scenario('range');
    const entries = await db().selectFrom('proof_entries').select(['seq', 'recorded_at']).where('chain', '=', tenant.id).orderBy('seq').execute();
    const from = new Date(entries[2].recorded_at.getTime());
    const bundle = await exportBundle(app, tenant.id, { from, to: new Date(Date.now() + 60_000) });
    const r = verifyBundle(clone(bundle));
    expect(r.problems).toEqual([]);
    expect(bundle.segments[0].entries[0].seq).toBeLessThanOrEqual(3);
    expect(await exportBundle(app, tenant.id, { from: new Date(Date.now() + 3_600_000) })).toMatchObject({ segments: [] });
  });

  describe('tampering with an exported bundle is detected', () => {
    let bundle: Bundle;
    let chain: string;
    beforeAll(async () => {
      const { tenant } = await scenario('bundle-tamper');
      chain = tenant.id;
      bundle = await exportBundle(app, tenant.id);
      expect(verifyBundle(clone(bundle)).problems).toEqual([]);
    });
    const entriesOf = (b: Bundle) => b.segments.flatMap((s) => s.entries);

    it('an edited event', () => {
      const b = clone(bundle);
      (entriesOf(b)[3].content as { data: Record<string, unknown> }).data.url = 'https://evil.example/';
      expect(problems(b)).toEqual(expect.arrayContaining([expect.stringMatching(/^entry 4: event .* content does not match its hash: the event was edited/)]));
    });

    it('an edited event whose hashes were recomputed (only the signed head catches it)', () => {
      const b = clone(bundle);
      const seg = b.segments[1];
      let prev = seg.prev;
      for (const e of seg.entries) {
        if (e.seq === 5) (e.content as { type: string }).type = 'complained';
        e.content_hash = contentHash(e.content as never);
        e.hash = entryHash(chain, e.seq, prev, e.content_hash);
        prev = e.hash;
      }
      expect(problems(b)).toEqual([expect.stringMatching(/^segment 4\.\.7: recomputed head differs from the head signed by checkpoint 7/)]);
    });

    it('a deleted entry', () => {
      const b = clone(bundle);
      b.segments[1].entries.splice(1, 1);
      expect(problems(b).join('\n')).toMatch(/entry 6: entries 5\.\.5 are missing before it \(deleted\)/);
    });

    it('an inserted entry', () => {
      const b = clone(bundle);
      const copy = clone(b).segments[1].entries[0];
      b.segments[1].entries.splice(1, 0, copy);
      expect(problems(b).join('\n')).toMatch(/entry 4: comes after entry 4: entries reordered or duplicated/);
    });

    it('two entries swapped', () => {
      const b = clone(bundle);
      const es = b.segments[1].entries;
      [es[1], es[2]] = [es[2], es[1]];
      expect(problems(b).join('\n')).toMatch(/entry 5: comes after entry 6: entries reordered/);
    });

    it('two entries swapped and renumbered', () => {
      const b = clone(bundle);
      const es = b.segments[1].entries;
      [es[1], es[2]] = [es[2], es[1]];
      [es[1].seq, es[2].seq] = [es[2].seq, es[1].seq];
      expect(problems(b).join('\n')).toMatch(/entry 5: does not follow the entry before it/);
    });

    it('a whole segment removed', () => {
      const b = clone(bundle);
      b.segments.splice(0, 1);
      expect(problems(b).join('\n')).toMatch(/entries 1\.\.3 are missing/);
    });

    it('checkpoints stripped from the bundle', () => {
      const b = clone(bundle);
      b.checkpoints = [];
      for (const seg of b.segments) seg.checkpoint = null;
      expect(problems(b).join('\n')).toMatch(/segment 1\.\.3: is not covered by any signed checkpoint/);
    });

    it('a forged or altered checkpoint', () => {
      const b = clone(bundle);
      b.checkpoints[1].at = '2030-01-01T00:00:00.000Z';
      expect(problems(b).join('\n')).toMatch(/checkpoint 7: signature does not verify: the checkpoint was forged or altered/);
      const c = clone(bundle);
      c.checkpoints[0].head = c.segments[1].entries[0].hash;
      expect(problems(c).join('\n')).toMatch(/checkpoint 3: signature does not verify/);
    });

    it('a bundle re-signed with another key passes only if that key is not pinned', async () => {
      const b = clone(bundle);
      const forger = generateKeyPairSync('ed25519');
      const { keyIdOf } = await import('../../src/proof/format.js');
      const { sign } = await import('node:crypto');
      const keyId = keyIdOf(forger.publicKey);
      (entriesOf(b)[0].content as { type: string }).type = 'bounced';
      // Recompute everything as a forger would.
      let prev = b.segments[0].prev;
      for (const seg of b.segments) {
        for (const e of seg.entries) {
          e.content_hash = contentHash(e.content as never);
          e.hash = entryHash(chain, e.seq, prev, e.content_hash);
          prev = e.hash;
        }
        seg.prev = seg === b.segments[0] ? seg.prev : b.segments[0].entries[b.segments[0].entries.length - 1].hash;
        const cp = b.checkpoints.find((c) => c.seq === seg.checkpoint)!;
        cp.head = prev;
        cp.key_id = keyId;
        cp.signature = sign(null, checkpointMessage({ ...cp, at: new Date(cp.at) }), forger.privateKey).toString('base64');
      }
      b.public_key = { algorithm: 'Ed25519', key_id: keyId, pem: forger.publicKey.export({ type: 'spki', format: 'pem' }) as string };
      expect(problems(b)).toEqual([]);
      expect(verifyBundle(b).keyId).toBe(keyId);
      expect(problems(b, resolveProofKey(app.config).publicPem).join()).toMatch(/not with the key you trust/);
    });

    it('malformed input is a finding, not a crash', () => {
      expect(problems(null)).toEqual([expect.stringMatching(/^bundle: not a mailtrail-proof-bundle\/2 file/)]);
      expect(problems({ ...clone(bundle), format: 'other/1' })[0]).toMatch(/format/);
      const b = clone(bundle) as unknown as { segments: Array<{ entries: Array<{ content: unknown }> }> };
      b.segments[0].entries[0].content = { kind: 'event', n: Number.NaN };
      expect(problems(b).length).toBeGreaterThan(0);
    });
  });

  describe('tampering in the database is detected by `proof check`', () => {
    async function tampered(name: string, tamper: (ids: { chain: string; a: string; b: string }) => Promise<unknown>) {
      const { tenant, a, b } = await scenario(name);
      await sign();
      expect((await checkChain(app, tenant.id)).problems).toEqual([]);
      await withTriggersOff(() => tamper({ chain: tenant.id, a, b }));
      const r = await checkChain(app, tenant.id);
      expect(r.ok).toBe(false);
      return r.problems.map((p) => `${p.at}: ${p.problem}`).join('\n');
    }

    it('an edited event', async () => {
      const out = await tampered('db-edit', ({ a }) => sql`update events set data = '{"url":"https://evil.example/"}' where message_id = ${a} and type = 'clicked'`.execute(db()));
      expect(out).toMatch(/entry 7: event .*clicked.* content does not match its hash: the event was edited/);
    });

    it('a deleted event', async () => {
      const out = await tampered('db-delete', ({ b }) => sql`delete from events where message_id = ${b} and type = 'clicked'`.execute(db()));
      expect(out).toMatch(/entry 6: event [0-9a-f-]+: its content is gone from the database \(deleted\)/);
    });

    it('an event inserted behind the chain', async () => {
      const out = await tampered('db-insert', ({ chain, a }) =>
        sql`insert into events (id, tenant_id, message_id, tenant_seq, type, occurred_at, source)
            values ('01900000-0000-7000-8000-000000000001', ${chain}, ${a}, 99, 'complained', now(), 'manual')`.execute(db()),
      );
      expect(out).toMatch(/event 01900000-0000-7000-8000-000000000001: \(tenant_seq 99, .*\) is not in the chain/);
    });

    it('events reordered (tenant_seq swapped)', async () => {
      const out = await tampered('db-reorder', ({ chain }) =>
        sql`update events set tenant_seq = case tenant_seq when 4 then 5 else 4 end where tenant_id = ${chain} and tenant_seq in (4, 5)`.execute(db()),
      );
      expect(out).toMatch(/entry 4: .*the event was edited/);
      expect(out).toMatch(/entry 5: .*the event was edited/);
    });

    it('a chain entry deleted, or entries renumbered', async () => {
      const del = await tampered('db-entry-delete', ({ chain }) => sql`delete from proof_entries where chain = ${chain} and seq = 5`.execute(db()));
      expect(del).toMatch(/entry 6: entries 5\.\.5 are missing before it \(deleted\)/);
      expect(del).toMatch(/is not in the chain/);
      const swap = await tampered('db-entry-swap', async ({ chain }) => {
        await sql`update proof_entries set seq = -5 where chain = ${chain} and seq = 5`.execute(db());
        await sql`update proof_entries set seq = 5 where chain = ${chain} and seq = 6`.execute(db());
        await sql`update proof_entries set seq = 6 where chain = ${chain} and seq = -5`.execute(db());
      });
      expect(swap).toMatch(/entry 5: does not follow the entry before it/);
    });

    it('an event and its entry rewritten consistently (the signed checkpoint catches it)', async () => {
      const out = await tampered('db-rewrite', async ({ chain, a }) => {
        await sql`update events set type = 'bounced' where message_id = ${a} and type = 'delivered'`.execute(db());
        const bundle = await exportBundle(app, chain, { sign: false });
        let prev = '0'.repeat(64);
        for (const e of bundle.segments.flatMap((s) => s.entries)) {
          const ch = contentHash(e.content as never);
          const h = entryHash(chain, e.seq, prev, ch);
          await sql`update proof_entries set content_hash = ${ch}, hash = ${h}, prev_hash = ${prev} where chain = ${chain} and seq = ${e.seq}`.execute(db());
          prev = h;
        }
      });
      expect(out).toMatch(/segment 1\.\.3: recomputed head differs from the head signed by checkpoint 3/);
    });

    it('a forged checkpoint row', async () => {
      const out = await tampered('db-checkpoint', ({ chain }) =>
        sql`update proof_checkpoints set at = at - interval '1 day' where chain = ${chain} and seq = 7`.execute(db()),
      );
      expect(out).toMatch(/checkpoint 7: signature does not verify/);
    });
  });

  it('raw reports: chained with the events that cite them, purged after retention, still verifiable', async () => {
    const tenant = await ensureTenant(db(), 'reports');
    const m = await insertMessage(db(), tenant.id);
    const report = { id: await storeReport('From: MAILER-DAEMON\r\n\r\n550 5.1.1 user unknown\r\n', tenant.id) };
    await append(m, [ev('sent', { source: 'send' })]);
    await append(m, [ev('bounced', { source: 'smtp', reportId: report.id, data: { bounce_class: 'hard' } })]);
    await append(m, [ev('bounced', { source: 'smtp', reportId: report.id, dedupeKey: 'again' })]);
    const kinds = await db().selectFrom('proof_entries').select(['kind', 'report_id']).where('chain', '=', tenant.id).orderBy('seq').execute();
    expect(kinds.map((k) => k.kind)).toEqual(['event', 'report', 'event', 'event']);

    const fresh = await exportBundle(app, tenant.id, { messageId: m });
    expect(fresh.reports).toHaveLength(1);
    expect(verifyBundle(clone(fresh)).problems).toEqual([]);
    const altered = clone(fresh);
    altered.reports[0].raw_gzip_base64 = gzipSync(Buffer.from('From: someone else\r\n\r\n250 ok\r\n')).toString('base64');
    expect(problems(altered).join()).toMatch(/report \d+: raw body does not match its sha256/);
    const dropped = clone(fresh);
    dropped.reports[0].raw_gzip_base64 = null;
    expect(problems(dropped).join()).toMatch(/raw body is missing and no purge entry records its removal/);

    // A stored report goes to the system chain, once.
    const stray = { id: await storeReport('Subject: out of office\r\n\r\nback monday\r\n', null, false) };
    expect(await db().transaction().execute((trx) => chainStoredReports(trx, [stray.id, stray.id]))).toBe(1);
    expect(await db().transaction().execute((trx) => chainStoredReports(trx, [stray.id]))).toBe(0);

    expect(await purgeExpiredReports(app)).toBe(0);
    tick(31 * 86_400_000);
    expect(await purgeExpiredReports(app)).toBeGreaterThanOrEqual(2);
    expect(await purgeExpiredReports(app)).toBe(0);
    const row = await db().selectFrom('raw_reports').select(['raw', 'purged_at', 'sha256']).where('id', '=', report.id).executeTakeFirstOrThrow();
    expect(row.raw).toBeNull();
    expect(row.purged_at).not.toBeNull();
    const purges = await db()
      .selectFrom('proof_entries')
      .select(['chain', 'report_id'])
      .where('kind', '=', 'purge')
      .where('report_id', 'in', [report.id, stray.id])
      .orderBy('report_id')
      .orderBy('chain')
      .execute();
    expect(purges.map((p) => p.chain)).toEqual([tenant.id, SYSTEM_CHAIN, SYSTEM_CHAIN]);

    const later = await exportBundle(app, tenant.id, { messageId: m });
    const r = verifyBundle(clone(later));
    expect(r.problems).toEqual([]);
    expect(r.notes.join()).toMatch(new RegExp(`report ${report.id}: raw body purged at .*its sha256 ${row.sha256} is still proven`));
    expect((await checkChain(app, tenant.id)).problems).toEqual([]);

    // The system chain holds every stored report and its purge; check finds a report kept behind its back.
    const system = verifyBundle(clone(await exportBundle(app, SYSTEM_CHAIN)));
    expect(system.problems).toEqual([]);
    expect(system.notes.filter((n) => /raw body purged/.test(n))).toHaveLength(2);
    expect((await checkChain(app, SYSTEM_CHAIN)).problems).toEqual([]);
    const hidden = await storeReport('Subject: hidden\r\n\r\nnot chained\r\n', null, false);
    expect((await checkChain(app, SYSTEM_CHAIN)).problems.map((p) => p.at)).toEqual([`report ${hidden}`]);
    await db().transaction().execute((trx) => chainStoredReports(trx, [hidden]));
  });

  it('ingest chains a correlated report with its event, and an uncorrelated one into the system chain', async () => {
    const tenant = await ensureTenant(db(), 'ingest');
    const m = await insertMessage(db(), tenant.id, 'someone@example.com');
    const ingestor = createIngestor(app, fixtureParser);
    const bounce = await ingestor.ingest(rawOf(fixtureReport()), { source: 'smtp', mailFrom: '', rcptTo: [verpAddress(app.secret, m, 'bounces.test')] });
    expect(bounce.events).toBe(1);
    const kinds = await db().selectFrom('proof_entries').select(['kind', 'report_id']).where('chain', '=', tenant.id).orderBy('seq').execute();
    expect(kinds).toEqual([
      { kind: 'report', report_id: bounce.reportId },
      { kind: 'event', report_id: bounce.reportId },
    ]);
    const bundle = await exportBundle(app, tenant.id, { messageId: m });
    expect(bundle.reports.map((r) => r.raw_gzip_base64 !== null)).toEqual([true]);
    expect(verifyBundle(clone(bundle)).problems).toEqual([]);

    const stray = await ingestor.ingest(rawOf(fixtureReport({ recipients: [] })), { source: 'smtp', mailFrom: 'x@example.org', rcptTo: ['nobody@bounces.test'] });
    expect(stray.correlated).toBe(0);
    const system = await db().selectFrom('proof_entries').select('kind').where('chain', '=', SYSTEM_CHAIN).where('report_id', '=', stray.reportId).execute();
    expect(system).toEqual([{ kind: 'report' }]);
  });

  it.runIf(dialect === 'pg')('two writers that stored a report of one tenant do not deadlock on its row lock', async () => {
    // Each raw_reports insert holds KEY SHARE on the tenant row (foreign key); appendEvents must
    // take a lock that does not conflict with it, or these two wait on each other.
    const tenant = await ensureTenant(db(), 'key-share');
    const ms = [await insertMessage(db(), tenant.id), await insertMessage(db(), tenant.id)];
    let arrived = 0;
    let release = () => {};
    const both = new Promise<void>((r) => (release = r));
    const run = (m: string, raw: string) =>
      db().transaction().execute(async (trx) => {
        const bytes = Buffer.from(raw);
        await trx.insertInto('raw_reports').values({ sha256: sha256Hex(bytes), raw: gzipSync(bytes), size: bytes.length, source: 'smtp', envelope: '{}', tenant_id: tenant.id }).execute();
        if (++arrived === 2) release();
        await both;
        return appendEvents(trx, m, [ev('bounced', { source: 'smtp' })]);
      });
    const results = await Promise.allSettled([run(ms[0], 'key-share 1'), run(ms[1], 'key-share 2')]);
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(['fulfilled', 'fulfilled']);
    expect((await checkChain(app, tenant.id)).problems).toEqual([]);
  });

  it('the CLI verifies a bundle file offline and says what is wrong and where', async () => {
    const { tenant, b } = await scenario('cli');
    const good = join(tmp, 'good.json');
    const bad = join(tmp, 'bad.json');
    const keyFile = join(tmp, 'key.pem');
    const bundle = await exportBundle(app, tenant.id, { messageId: b });
    writeFileSync(good, JSON.stringify(bundle));
    const broken = clone(bundle);
    (broken.segments[0].entries[0].content as { type: string }).type = 'delivered';
    writeFileSync(bad, JSON.stringify(broken));
    writeFileSync(keyFile, resolveProofKey(app.config).publicPem);
    const cli = (...args: string[]) =>
      exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'proof', ...args], { env: { PATH: process.env.PATH } }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
    const ok = await cli('verify', good, '--key', keyFile);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toMatch(/^OK: \d+ entries verified \(2 with content\)/);
    expect(ok.out).toMatch(new RegExp(`scope: message ${b} of chain ${tenant.id} \\(tenant "cli"\\)`));
    const failed = await cli('verify', bad);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/FAILED: .*\n {2}entry \d+: event .* content does not match its hash: the event was edited/);
  }, 60_000);

  it.runIf(dialect === 'pg')('the CLI exports from and checks the database', async () => {
    const { tenant, a } = await scenario('cli-db');
    const env = { DATABASE_URL: t.url, MAILTRAIL_SECRET: 'x'.repeat(32), MAILTRAIL_PROOF_PRIVATE_KEY: KEY_PEM, MAILTRAIL_LOG_LEVEL: 'silent' };
    const chunks: string[] = [];
    const sink = { write: (c: string) => chunks.push(c) } as unknown as NodeJS.WritableStream;
    const io = { stdout: sink, stderr: sink, env };
    const out = join(tmp, 'cli-db.json');
    expect(await runProof(['export', '--tenant', 'cli-db', '--message', a, '--out', out], io)).toBe(0);
    expect(await runProof(['verify', out], io)).toBe(0);
    expect(await runProof(['check', '--tenant', tenant.id], io)).toBe(0);
    expect(await runProof(['export', '--tenant', 'nobody', '--out', out], io)).toBe(1);
    expect(await runProof(['export', '--tenant', 'cli-db'], io)).toBe(2);
    expect(chunks.join('')).toMatch(/no tenant "nobody"/);
  });
});
