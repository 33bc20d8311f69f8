import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Counter, type Registry } from 'prom-client';
import type { Log } from '../log.js';
import { parse } from '../parsers/index.js';
import type { Report } from '../parsers/report.js';
import { once } from './metrics.js';
import type { ParseRequest, ParseResponse } from './parse-worker.js';
import { unknownReport } from './prepare.js';

/**
 * Parsing on worker threads, off the event loop: however long one message takes to parse, the
 * HTTP, SMTP and worker roles keep answering. Each message gets a time budget; a thread still
 * busy when it is up is terminated and replaced, and the message comes back as an `unknown`
 * report whose error names the reason, so it is stored raw and answered 250 like any message
 * that will never parse (a 4xx would only make the sender retry it for days).
 */
export interface ParsePool {
  parse(raw: Buffer): Promise<Report>;
  /**
   * Lets the messages already handed over finish (each within its budget), then ends the
   * threads. Messages handed over after this are parsed on the calling thread.
   */
  close(): Promise<void>;
}

export interface ParsePoolOptions {
  /** Threads; 0 parses on the calling thread, with no budget; auto: 2, or 1 on one core. */
  size: number | 'auto';
  /** Budget of one message, from the moment a thread takes it. */
  timeoutMs: number;
  /** Old-generation heap of one thread: a message that needs more kills only its thread. */
  maxHeapMb?: number;
  log?: Log;
  metrics?: Registry;
}

/** Errors of the reports made for messages the pool could not parse; stored with them. */
export const PARSE_TIMEOUT = 'parse_timeout';
export const PARSE_CRASH = 'parse_crash';

/** Threads that die before they load, in a row, before the pool gives up and parses inline. */
const MAX_START_FAILURES = 3;

interface Job {
  id: number;
  raw: Buffer;
  resolve(report: Report): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Set once the pool itself ends the thread: its exit is expected. */
  retired: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

export function createParsePool(opts: ParsePoolOptions): ParsePool {
  // Two threads keep one slow message from holding up the rest; more only compete with the
  // event loop for the same cores.
  const size = opts.size === 'auto' ? Math.min(2, availableParallelism()) : opts.size;
  if (size <= 0) {
    return { parse: async (raw) => parse(raw), close: async () => {} };
  }
  const log = opts.log?.child({ role: 'parse-pool' });
  const given = opts.metrics ? budgetCounter(opts.metrics) : null;
  const queue: Job[] = [];
  const slots = new Set<Slot>();
  let nextId = 1;
  let startFailures = 0;
  let inline = false;
  let closed = false;
  let drained: (() => void) | null = null;

  function spawn(): void {
    const slot: Slot = { worker: openWorker(opts.maxHeapMb), ready: false, retired: false, job: null, timer: null };
    slots.add(slot);
    // A thread waiting for work must not keep the process alive; one with a job has its timer.
    slot.worker.unref();
    slot.worker.on('message', (m: ParseResponse | 'ready') => {
      if (m === 'ready') {
        slot.ready = true;
        startFailures = 0;
        dispatch();
      } else if (slot.job && m.id === slot.job.id) {
        const job = slot.job;
        release(slot);
        job.resolve(m.report);
        dispatch();
      }
    });
    slot.worker.on('error', (err) => log?.error({ err, code: 'MT_ERR_PARSE_WORKER' }, 'parse thread failed'));
    slot.worker.on('exit', (exitCode) => {
      if (slot.retired) return;
      slots.delete(slot);
      const job = slot.job;
      release(slot);
      if (!slot.ready) {
        // The thread could not even load: not the message's fault. Give it a few more tries,
        // then parse on the event loop rather than turn every message into `unknown`.
        if (++startFailures >= MAX_START_FAILURES) {
          inline = true;
          log?.error({ code: 'MT_ERR_PARSE_POOL', exitCode }, 'parse threads do not start; parsing on the main thread');
        }
      } else if (job) {
        given?.inc({ reason: PARSE_CRASH });
        log?.warn({ code: 'MT_ERR_PARSE_CRASH', exitCode, size: job.raw.length }, 'parse thread died on a message; stored unparsed');
        job.resolve(unknownReport(`${PARSE_CRASH}: the parser thread died (exit code ${exitCode}) on this message`));
      }
      if (!inline && !closed) spawn();
      dispatch();
    });
  }

  function release(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
  }

  function dispatch(): void {
    // No thread left to take them (they would not start, or the pool is closing).
    if (inline || slots.size === 0) for (const job of queue.splice(0)) job.resolve(parse(job.raw));
    for (const slot of slots) {
      if (queue.length === 0) break;
      if (!slot.ready || slot.job) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => overBudget(slot, job), opts.timeoutMs);
      slot.worker.postMessage({ id: job.id, raw: job.raw } satisfies ParseRequest);
    }
    if (drained && queue.length === 0 && ![...slots].some((s) => s.job)) drained();
  }

  function overBudget(slot: Slot, job: Job): void {
    if (slot.job !== job) return;
    release(slot);
    slot.retired = true;
    slots.delete(slot);
    void slot.worker.terminate();
    given?.inc({ reason: PARSE_TIMEOUT });
    log?.warn({ code: 'MT_ERR_PARSE_TIMEOUT', size: job.raw.length, budget_ms: opts.timeoutMs }, 'message not parsed within its budget; stored unparsed');
    job.resolve(unknownReport(`${PARSE_TIMEOUT}: not parsed within ${opts.timeoutMs} ms`));
    if (!closed) spawn();
    dispatch();
  }

  for (let i = 0; i < size; i++) spawn();

  return {
    parse(raw) {
      if (closed) return Promise.resolve(parse(raw));
      return new Promise<Report>((resolve) => {
        queue.push({ id: nextId++, raw, resolve });
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        drained = resolve;
        dispatch();
      });
      const ending = [...slots].map((slot) => {
        slot.retired = true;
        return slot.worker.terminate();
      });
      slots.clear();
      await Promise.all(ending);
    },
  };
}

/**
 * The thread's entry: the built .js beside this file, or under tsx/vitest (this file is .ts)
 * the .ts source, loaded through tsx's loader registered inside the new thread.
 */
function openWorker(maxHeapMb?: number): Worker {
  const here = import.meta.url;
  const options = maxHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: maxHeapMb } } : {};
  if (here.endsWith('.js')) return new Worker(new URL('./parse-worker.js', here), options);
  // tsx's ESM entry, found through its package.json (its CommonJS build cannot register hooks).
  const require = createRequire(here);
  const manifest = require.resolve('tsx/package.json');
  const api = (require(manifest) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'].import.default;
  const tsx = new URL(api, pathToFileURL(manifest)).href;
  const entry = new URL('./parse-worker.ts', here).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

function budgetCounter(registry: Registry): Counter<'reason'> {
  return once(registry, 'mailtrail_parse_unparsed_total', () =>
    new Counter({
      name: 'mailtrail_parse_unparsed_total',
      help: 'Messages stored unparsed because parsing them exceeded the time budget (parse_timeout) or killed the parser thread (parse_crash).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  );
}
