import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedDir } from '../../support/shared.js';
import { gsmDecode } from '../../../src/core/sms-encoding.js';

/** The test SMSC (Net::SMPP): test/fixtures/shared/tools/smsc when present, else the shared one. */
export const smscDir = [join(sharedDir, 'tools/smsc'), join(import.meta.dirname, '../../fixtures/shared/tools/smsc'), '/work/shared/tools/smsc'].find((d) =>
  existsSync(join(d, 'smsc.pl')),
);

export interface JournalEntry {
  ev: string;
  conn: number;
  t: number;
  id?: string;
  dst?: string;
  src?: string;
  dcs?: number;
  esm?: number;
  text?: string;
  stat?: string;
  pdu?: string;
  status?: number;
  ok?: number;
  udh_ref?: string | number;
  udh_total?: number;
  udh_seq?: number;
  payload?: number;
  registered_delivery?: number;
}

export interface Smsc {
  port: number;
  url(params?: string, user?: string, password?: string): string;
  journal(): JournalEntry[];
  /** Text of a submit entry as the SMSC saw it: UCS-2 decoded by the SMSC, GSM septets decoded here. */
  textOf(e: JournalEntry): string;
  stop(): Promise<void>;
}

export interface SmscOptions {
  port?: number;
  maxPerSec?: number;
  dropEvery?: number;
  receiptPdu?: 'deliver_sm' | 'data_sm';
  dlrDelay?: number;
  slowDelay?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Starts the real test SMSC on a free loopback port with its journal; resolves once it listens. */
export async function startSmsc(opts: SmscOptions = {}): Promise<Smsc> {
  if (!smscDir) throw new Error('test SMSC not found: set MAILTRAIL_TEST_SHARED_DIR to the folder holding tools/smsc');
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mt-smsc-'));
  const journal = join(dir, 'journal.jsonl');
  const args = ['--port', String(port), '--journal', journal, '--dlr-delay', String(opts.dlrDelay ?? 0.2), '--slow-delay', String(opts.slowDelay ?? 1)];
  if (opts.maxPerSec) args.push('--max-per-sec', String(opts.maxPerSec));
  if (opts.dropEvery) args.push('--drop-every', String(opts.dropEvery));
  if (opts.receiptPdu) args.push('--receipt-pdu', opts.receiptPdu);
  // Its own process group: stop() ends the per-connection children too (the SMSC really goes down).
  const child: ChildProcess = spawn(join(smscDir, 'run.sh'), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`test SMSC did not start: ${stderr}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`test SMSC exited (${code}): ${stderr}`));
    });
  });
  return {
    port,
    url: (params = '', user = 'mailtrail', password = 'secret') => `smpp://${user}:${password}@127.0.0.1:${port}${params ? `?${params}` : ''}`,
    journal: () =>
      existsSync(journal)
        ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalEntry)
        : [],
    textOf: (e) => (e.dcs === 8 ? (e.text ?? '') : gsmDecode(Uint8Array.from([...(e.text ?? '')].map((c) => c.charCodeAt(0))))),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-(child.pid as number), 'SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined/false) or `ms` pass. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = 20_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
