import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

describe(`operator endpoints on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  beforeAll(async () => {
    t = await testApp();
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  it('answers health and readiness with a request id', async () => {
    const h = await http.inject({ url: '/healthz' });
    expect(h.statusCode).toBe(200);
    expect(h.headers['x-request-id']).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const r = await http.inject({ url: '/readyz' });
    expect(r.json()).toEqual({ ok: true, database: 'up' });
  });

  it('keeps a caller-supplied request id', async () => {
    const r = await http.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(r.headers['x-request-id']).toBe('abc-123');
  });

  it('answers unknown routes with JSON 404', async () => {
    const r = await http.inject({ url: '/no/such/route?x=1' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: 'not_found', message: 'no route GET /no/such/route' });
  });

  it('serves Prometheus metrics', async () => {
    const r = await http.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toContain('mailtrail_process_cpu_user_seconds_total');
  });
});

describe('readiness when the database is gone', () => {
  it('answers 503 once the database is closed', async () => {
    const t = await testApp();
    const http = await buildHttp(t.app);
    await t.close();
    const r = await http.inject({ url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ ok: false, database: 'down' });
    expect((await http.inject({ url: '/healthz' })).statusCode).toBe(200);
    await http.close();
  });
});
