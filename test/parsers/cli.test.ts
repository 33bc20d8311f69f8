import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runParse } from '../../src/cli/parse.js';
import { corpusDir, corpusFiles } from '../support/shared.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await runParse(args, { stdout: out.stream, stderr: err.stream, stdin: Readable.from([Buffer.from(stdin)]) });
  return { code, out: out.text(), err: err.text() };
}

describe('mailtrail parse', () => {
  it('prints one JSON line per file for 500 files in one call', async () => {
    const names = corpusFiles();
    const paths = Array.from({ length: 500 }, (_, i) => join(corpusDir, 'eml', names[i % names.length]));
    const { code, out } = await run(['--json', ...paths]);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(500);
    const first = JSON.parse(lines[0]) as { file: string; kind: string; recipients: unknown[] };
    expect(first.file).toBe(names[0]);
    expect(first.kind).toBeTypeOf('string');
  });

  it('reads standard input for -', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-parse-'));
    const raw = 'From: MAILER-DAEMON@mx.example.jp\nSubject: Undelivered Mail Returned to Sender\n\n<kijitora@example.jp>: host mx.example.jp said: 550 5.1.1 User unknown\n';
    writeFileSync(join(dir, 'x.eml'), raw);
    const { code, out } = await run(['--json', '-'], raw);
    expect(code).toBe(0);
    const r = JSON.parse(out) as { file: string; kind: string; recipients: Array<{ recipient: string; reason: string; bounce_class: string; status: string; replycode: string; feedback_type: string }> };
    expect(r.file).toBe('-');
    expect(r.recipients[0]).toMatchObject({ recipient: 'kijitora@example.jp', reason: 'userunknown', bounce_class: 'hard', status: '5.1.1', replycode: '550', feedback_type: '' });
  });

  it('reports an unreadable file as unknown and exits 1 after the others', async () => {
    const good = join(corpusDir, 'eml', corpusFiles()[0]);
    const { code, out } = await run(['--json', '/nonexistent/missing.eml', good]);
    expect(code).toBe(1);
    const [bad, ok] = out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; kind: string; error?: string });
    expect(bad).toMatchObject({ file: 'missing.eml', kind: 'unknown' });
    expect(bad.error).toMatch(/cannot read/);
    expect(ok.file).toBe(corpusFiles()[0]);
  });

  it('prints a readable table without --json', async () => {
    const { code, out } = await run([join(corpusDir, 'eml', corpusFiles()[0])]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^file\s+kind\s+recipient/);
  });
});
