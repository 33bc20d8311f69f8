import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse } from '../parsers/index.js';
import type { Report } from '../parsers/report.js';

interface ParseIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

const USAGE = 'usage: mailtrail parse [--json] FILE... (use - for standard input)\n';

/**
 * `mailtrail parse [--json] FILE...`: one report per input, streamed as it is parsed.
 * Files are read one at a time so that 500 inputs never sit in memory together.
 * Exit code 0, or 1 when any input could not be read, 2 on bad usage.
 */
export async function runParse(args: string[], io: ParseIo): Promise<number> {
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  const unknownFlag = files.find((f) => f.startsWith('-') && f !== '-');
  if (unknownFlag || files.length === 0) {
    io.stderr.write(unknownFlag ? `unknown option ${unknownFlag}\n${USAGE}` : USAGE);
    return 2;
  }
  let failed = false;
  if (!json) io.stdout.write(`${'file'.padEnd(28)} ${'kind'.padEnd(20)} ${'recipient'.padEnd(36)} ${'reason'.padEnd(16)} ${'class'.padEnd(12)} status\n`);
  for (const file of files) {
    const name = file === '-' ? '-' : basename(file);
    let report: Report;
    try {
      report = parse(file === '-' ? await readAll(io.stdin) : await readFile(file));
    } catch (err) {
      failed = true;
      report = unreadable(err);
    }
    await write(io.stdout, json ? JSON.stringify({ file: name, ...report }) + '\n' : tableRows(name, report));
  }
  return failed ? 1 : 0;
}

function unreadable(err: unknown): Report {
  const message = err instanceof Error ? err.message : String(err);
  return {
    kind: 'unknown',
    agent: 'none',
    error: `cannot read input: ${message}`,
    subject: '',
    from: '',
    message_id: '',
    recipients: [],
    original: { message_id: '', mailtrail_id: '', envelope_from: '', original_envelope_id: '', from: '', to: '', subject: '', date: '' },
  };
}

function tableRows(name: string, r: Report): string {
  const cell = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + '…' : s).padEnd(n);
  if (!r.recipients.length) return `${cell(name, 28)} ${cell(r.kind, 20)} ${cell(r.error ?? '-', 36)}\n`;
  return r.recipients
    .map((x) => `${cell(name, 28)} ${cell(r.kind, 20)} ${cell(x.recipient ?? '(undisclosed)', 36)} ${cell(x.reason, 16)} ${cell(x.bounce_class, 12)} ${x.status}\n`)
    .join('');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Writes with back-pressure, so piping 500 reports into a slow reader stays bounded. */
function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(text)) resolve();
    else stream.once('drain', resolve);
  });
}
