import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from '../../src/parsers/index.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { freePort, session } from './client.js';

const DOMAIN = 'bounces.test';
const BUDGET_MS = 300;

/**
 * A DSN whose parts carry megabytes of blank lines: parse time is linear in it, but long (about
 * a second per 4 MB here), far over the budget this suite sets.
 */
function slowDsn(mb: number): string {
  const blank = '\n'.repeat(mb * 1024 * 1024);
  return (
    `From: MAILER-DAEMON@mx.remote.test\nTo: <b@${DOMAIN}>\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n` +
    `--B\nContent-Type: text/plain\n\n${blank}x\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.remote.test\n\n` +
    `Final-Recipient: rfc822; someone@remote.test\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 ${blank}x\n--B--\n`
  );
}

describe(`parse time budget over real SMTP on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;

  beforeAll(async () => {
    t = await testApp({
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_PORT: String(await freePort()),
      MAILTRAIL_HTTP_HOST: '127.0.0.1',
      MAILTRAIL_HTTP_PORT: String(await freePort(27000, 27999)),
      MAILTRAIL_SMTP_MAX_SIZE: String(64 * 1024 * 1024),
      MAILTRAIL_PARSE_TIMEOUT: `${BUDGET_MS}ms`,
      MAILTRAIL_BOUNCE_DOMAIN: DOMAIN,
    });
    running = await serve(t.app, ['http', 'smtp']);
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    await t?.close();
  });

  it('answers 250 to a message over budget, stores it raw as unknown (parse_timeout), and HTTP answers meanwhile', async () => {
    const message = slowDsn(4);
    // Dot-stuffed and CRLF'd ahead: the client's own work must not count as the server's.
    const wire = Buffer.from(`${message.replace(/\n/g, '\r\n')}.\r\n`, 'latin1');
    const c = await session(running.smtp!.port);
    expect(await c.cmd('MAIL FROM:<>')).toMatch(/^250/);
    expect(await c.cmd(`RCPT TO:<b@${DOMAIN}>`)).toMatch(/^250/);
    expect(await c.cmd('DATA')).toMatch(/^354/);
    let done = false;
    // The HTTP role on the same event loop, polled while the message is sent, parsed and stored.
    const answers: number[] = [];
    const poll = (async () => {
      while (!done) {
        const r = await fetch(`http://127.0.0.1:${running.http!.port}/healthz`);
        if (r.ok) answers.push(performance.now());
        await r.arrayBuffer();
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    const sent = performance.now();
    c.write(wire);
    const replies = [await c.reply(120_000)];
    const answered = performance.now();
    done = true;
    await poll;
    c.close();

    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 Ok: stored as report \d+$/);
    const id = Number(/report (\d+)/.exec(replies.at(-1)!)![1]);
    const row = await t.app.database.db.selectFrom('raw_reports').select(['kind', 'parse', 'size', 'raw']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.kind).toBe('unknown');
    expect((row.parse as { error?: string }).error).toBe(`parse_timeout: not parsed within ${BUDGET_MS} ms`);
    // Kept whole, so `mailtrail reprocess` can read it again later.
    expect(row.size).toBe(wire.length - 3);
    expect(row.raw).not.toBeNull();
    // While the message was in hand, the HTTP role kept answering: a parse on the event loop
    // would have let no request through for as long as the parse takes (timed here, inline).
    const points = [sent, ...answers.filter((a) => a > sent && a < answered), answered];
    const longestSilence = Math.max(...points.slice(1).map((p, i) => p - points[i]));
    const t0 = performance.now();
    parse(Buffer.from(message, 'latin1'));
    const inlineParseMs = performance.now() - t0;
    expect(answered - sent).toBeGreaterThan(BUDGET_MS);
    expect(longestSilence, `HTTP silent for ${longestSilence.toFixed(0)} ms; the parse alone takes ${inlineParseMs.toFixed(0)} ms`).toBeLessThan(inlineParseMs / 2);
    const metrics = await fetch(`http://127.0.0.1:${running.http!.port}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/mailtrail_parse_unparsed_total\{reason="parse_timeout"\} 1/);
  });

  it('parses the next message normally on the replacement thread', async () => {
    const c = await session(running.smtp!.port);
    const dsn = slowDsn(0).replace('Diagnostic-Code: smtp; 550 x', 'Diagnostic-Code: smtp; 550 5.1.1 user unknown');
    const replies = await c.send('', [`b@${DOMAIN}`], dsn);
    c.close();
    const id = Number(/report (\d+)/.exec(replies.at(-1)!)![1]);
    const row = await t.app.database.db.selectFrom('raw_reports').select(['kind', 'parse']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.kind).toBe('bounce');
    expect((row.parse as { recipients: Array<{ recipient: string; reason: string }> }).recipients[0]).toMatchObject({ recipient: 'someone@remote.test', reason: 'userunknown' });
  });
});
