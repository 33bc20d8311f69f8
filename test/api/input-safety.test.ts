import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

/** NUL, lone surrogates, nesting and batch atomicity, against the real database. */
describe(`API input safety on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let tenantId: string;
  let key: string;

  beforeAll(async () => {
    t = await testApp();
    const db = t.app.database.db;
    tenantId = (await ensureTenant(db, 'safety')).id;
    key = (await createApiKey(db, tenantId)).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  // Raw JSON text: `\u0000` and `\ud800` escapes reach the server exactly as a client sent them.
  const postRaw = (url: string, json: string) =>
    http.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: json });
  const stored = async () =>
    Number((await t.app.database.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow()).n);
  const email = (extra = '') => `{"recipient":"a@example.com","from":"news@acme.test","subject":"Hi","text":"Hello"${extra}}`;

  it.each([
    ['subject', `{"recipient":"a@example.com","from":"news@acme.test","subject":"Hi\\u0000there","text":"Hello"}`, 'subject', /NUL/],
    ['text', `{"recipient":"a@example.com","from":"news@acme.test","subject":"Hi","text":"He\\ud800llo"}`, 'text', /lone UTF-16 surrogate/],
    ['html (lone low half)', email(',"html":"<p>\\udc00</p>"'), 'html', /lone UTF-16 surrogate/],
    ['recipient', `{"recipient":"a\\u0000@example.com","from":"news@acme.test","subject":"Hi","text":"Hello"}`, 'recipient', /NUL/],
    ['a tag', email(',"tags":["ok","b\\u0000ad"]'), 'tags.1', /NUL/],
    ['a nested metadata value', email(',"metadata":{"order":{"lines":["x","\\ud83d"]}}'), 'metadata.order.lines.1', /surrogate/],
    ['a metadata key', email(',"metadata":{"k\\u0000":1}'), 'metadata.k\u0000', /NUL/],
    ['a variable', `{"recipient":"a@example.com","from":"news@acme.test","template":{"subject":"{{n}}","text":"x"},"variables":{"n":"\\u0000"}}`, 'variables.n', /NUL/],
  ])('refuses %s with NUL or a lone surrogate: 400 naming the field, nothing stored', async (_what, json, field, message) => {
    const before = await stored();
    const r = await postRaw('/v1/messages', json);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'validation_error', field, message: expect.stringMatching(message) });
    expect(await stored()).toBe(before);
  });

  it('keeps well-formed text, emoji (surrogate pairs) included', async () => {
    const r = await postRaw('/v1/messages', email(',"metadata":{"mood":"\\ud83d\\ude00 ok"},"tags":["caf\\u00e9"]'));
    expect(r.statusCode).toBe(201);
    const m = await t.app.database.db.selectFrom('messages').select(['metadata', 'tags']).where('id', '=', r.json().id).executeTakeFirstOrThrow();
    expect(m.metadata).toEqual({ mood: '😀 ok' });
    expect(m.tags).toEqual(['café']);
  });

  it('refuses bad text in other routes too (webhooks, suppressions)', async () => {
    const hook = await postRaw('/v1/webhooks', '{"url":"https://hooks.example.com/x","description":"a\\u0000b"}');
    expect(hook.json()).toMatchObject({ field: 'description', message: expect.stringMatching(/NUL/) });
    const sup = await postRaw('/v1/suppressions', '{"address":"x@example.com","note":"\\ud800"}');
    expect(sup.json()).toMatchObject({ field: 'note', message: expect.stringMatching(/surrogate/) });
  });

  it('a batch with a bad item in the middle stores nothing and answers 400 naming the item, never 500', async () => {
    const good = (i: number) => `{"recipient":"b${i}@example.com","from":"news@acme.test","subject":"n${i}","text":"t"}`;
    for (const bad of [
      `{"recipient":"x@example.com","from":"news@acme.test","subject":"bad\\u0000","text":"t"}`,
      `{"recipient":"x@example.com","from":"news@acme.test","subject":"s","text":"t","metadata":{"a":"\\udfff"}}`,
      `{"recipient":"x@example.com","from":"news@acme.test","subject":"s"}`,
    ]) {
      const before = await stored();
      const items = [good(0), good(1), good(2), bad, good(4), good(5), good(6)];
      const r = await postRaw('/v1/messages', `{"messages":[${items.join(',')}]}`);
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().field, bad).toMatch(/^messages\.3\./);
      expect(await stored(), bad).toBe(before);
    }
    const ok = await postRaw('/v1/messages', `{"messages":[${[0, 1, 2].map(good).join(',')}]}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().results.map((x: { index: number; status: string }) => [x.index, x.status])).toEqual([
      [0, 'queued'],
      [1, 'queued'],
      [2, 'queued'],
    ]);
  });

  it('reports an item refused only after validation (an SMS template filled too long) in its result; the others are stored', async () => {
    const before = await stored();
    const long = 'x'.repeat(2_000);
    const sms = `{"channel":"sms","recipient":"+33612345678","from":"Acme","template":{"text":"{{v}}"},"variables":{"v":"${long}"}}`;
    const r = await postRaw('/v1/messages', `{"messages":[${email()},${sms},${email()}]}`);
    expect(r.statusCode).toBe(200);
    const [a, b, c] = r.json().results;
    expect(a).toMatchObject({ index: 0, status: 'queued', created: true });
    expect(b).toEqual({ index: 1, error: 'validation_error', field: 'messages.1.template.text', message: expect.stringMatching(/SMS segments long; at most 10/) });
    expect(c).toMatchObject({ index: 2, status: 'queued', created: true });
    expect(await stored()).toBe(before + 2);
  });

  it('refuses deeply nested metadata with 400 naming the limit, without exhausting the stack', async () => {
    const nest = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const deep = await postRaw('/v1/messages', email(`,"metadata":${nest(10_000)}`));
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({ field: 'metadata.a.a', message: expect.stringMatching(/nested deeper than 64 levels/) });
    const batch = await postRaw('/v1/messages', `{"messages":[${email(`,"metadata":${nest(10_000)}`)}]}`);
    expect(batch.statusCode).toBe(400);
    const medium = await postRaw('/v1/messages', email(`,"metadata":${nest(20)}`));
    expect(medium.json()).toMatchObject({ field: 'metadata', message: 'metadata: is nested deeper than 16 levels' });
    expect((await postRaw('/v1/messages', email(`,"metadata":${nest(15)}`))).statusCode).toBe(201);
  });
});
