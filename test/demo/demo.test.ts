import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../src/demo/run.js';
import { waitFor } from '../support/cli.js';
import { freePort } from '../smtp/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mt-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mailtrail demo', () => {
  let demo: Demo | undefined;
  afterAll(async () => {
    await demo?.stop();
  });

  it('moves every simulated message to its expected status through the real roles, seen through the API', async () => {
    const dataDir = join(dir, 'data');
    demo = await startDemo({ dataDir, httpPort: await freePort(), smtpPort: await freePort(), deliveredAfter: '4s', logLevel: 'silent' });
    expect(demo.login?.email).toBe('demo@demo.test');
    expect(demo.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui$/);
    const headers = { authorization: `Bearer ${demo.apiKey}` };
    const show = async (id: string) => (await (await fetch(`${demo!.apiUrl}/v1/messages/${id}`, { headers })).json()) as {
      status: string; subject: string; tags: string[]; engagement: { machine_opens: number }; events: Array<{ type: string; data: Record<string, unknown> }>;
    };
    const final = await waitFor(async () => {
      const shown = await Promise.all(demo!.messages.map((m) => show(m.id)));
      return shown.every((s, i) => s.status === demo!.messages[i].expect) ? shown : null;
    }, 120_000, 1_000).catch(async (err) => {
      const now = await Promise.all(demo!.messages.map(async (m) => `${m.recipient}: ${(await show(m.id)).status} (want ${m.expect})`));
      throw new Error(`${(err as Error).message}\n${now.join('\n')}`);
    });
    const by = (r: string) => final[demo!.messages.findIndex((m) => m.recipient === r)];
    for (const m of final) {
      expect(m.subject).toMatch(/^\[demo\] /);
      expect(m.tags[0]).toBe('demo');
    }
    expect(by('nobody@example.com').events.find((e) => e.type === 'bounced')?.data.reason).toBe('userunknown');
    expect(by('full.mailbox@example.com').events.map((e) => e.type)).toContain('deferred');
    expect(by('tim@example.com').engagement.machine_opens).toBe(1);
    expect(by('angry@example.com').events.map((e) => e.type)).toContain('complained');
    // The hard bounce suppressed its address: the next message to it is refused before sending.
    const again = await fetch(`${demo.apiUrl}/v1/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: 'nobody@example.com', from: 'demo@shop.example.com', subject: '[demo] again', text: 'hi' }),
    });
    expect(((await again.json()) as { status: string }).status).toBe('rejected');
    // Everything it keeps is in its data dir.
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);
    const stopping = demo;
    demo = undefined;
    await stopping.stop();
  }, 180_000);
});
