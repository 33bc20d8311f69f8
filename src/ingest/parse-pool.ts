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
/**
 * Messages handed to one thread at a time. The thread works through them in order; more than
 * one keeps it busy while this event loop is held up elsewhere (a store on embedded Postgres runs
 * on it), where one at a time made every message wait for a turn of the loop. Few, because the
 * ones queued behind a slow message wait for it (at most its budget) before they move on.
 */
const PER_THREAD = 4;
/**
 * A message still on its thread after this long is slow: the ones queued behind it go to another
 * thread (whichever thread gets to one first answers it), and the slow thread gets no more.
 */
const SLOW_MS = 50;

interface Job {
  id: number;
  raw: Buffer;
  /** Answered: a copy that another thread reaches later is ignored. */
  done: boolean;
  /** Handed to a second thread because the first was held up by a slow message. */
  moved: boolean;
  resolve(report: Report): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Set once the pool itself ends the thread: its exit is expected. */
  retired: boolean;
  /** Handed over, in the order the thread parses them: the first is the one it is on. */
  jobs: Job[];
  /** The budget of jobs[0]. */
  timer: NodeJS.Timeout | null;
  /** Fires when jobs[0] turns slow. */
  slowTimer: NodeJS.Timeout | null;
  slow: boolean;
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
    const slot: Slot = { worker: openWorker(opts.maxHeapMb), ready: false, retired: false, jobs: [], timer: null, slowTimer: null, slow: false };
    slots.add(slot);
    // A thread waiting for work must not keep the process alive; one with a job has its timer.
    slot.worker.unref();
    slot.worker.on('message', (m: ParseResponse | 'ready') => {
      if (m === 'ready') {
        slot.ready = true;
        startFailures = 0;
      } else if (slot.jobs[0]?.id === m.id) {
        const job = slot.jobs.shift()!;
        armHead(slot);
        answer(job, m.report);
      }
      dispatch();
    });
    slot.worker.on('error', (err) => log?.error({ err, code: 'MT_ERR_PARSE_WORKER' }, 'parse thread failed'));
    slot.worker.on('exit', (exitCode) => {
      if (slot.retired) return;
      const [job, ...behind] = end(slot);
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
        answer(job, unknownReport(`${PARSE_CRASH}: the parser thread died (exit code ${exitCode}) on this message`));
      }
      requeue(behind);
      if (!inline && !closed) spawn();
      dispatch();
    });
  }

  /** Takes a thread out of the pool; returns the jobs it had, the one it was on first. */
  function end(slot: Slot): Job[] {
    slots.delete(slot);
    clearTimers(slot);
    return slot.jobs.splice(0);
  }

  function clearTimers(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    if (slot.slowTimer) clearTimeout(slot.slowTimer);
    slot.timer = slot.slowTimer = null;
  }

  function answer(job: Job, report: Report): void {
    if (job.done) return;
    job.done = true;
    job.resolve(report);
  }

  /** Jobs a thread had not started go back to the front of the queue, unless already elsewhere. */
  function requeue(jobs: Job[]): void {
    queue.unshift(...jobs.filter((j) => !j.done && !j.moved));
  }

  /**
   * Starts the budget of the job the thread is on. Armed when this loop learns the previous job
   * is done, which may be later than the thread started it: the budget is never shorter than set.
   */
  function armHead(slot: Slot): void {
    clearTimers(slot);
    slot.slow = false;
    const job = slot.jobs[0];
    if (!job) return;
    slot.timer = setTimeout(() => overBudget(slot, job), opts.timeoutMs);
    if (slot.jobs.length > 1 || queue.length > 0) slot.slowTimer = setTimeout(() => turnedSlow(slot, job), SLOW_MS);
  }

  function turnedSlow(slot: Slot, job: Job): void {
    if (slot.jobs[0] !== job) return;
    slot.slow = true;
    const behind = slot.jobs.slice(1).filter((j) => !j.done && !j.moved);
    for (const j of behind) j.moved = true;
    queue.unshift(...behind);
    dispatch();
  }

  function dispatch(): void {
    // No thread left to take them (they would not start, or the pool is closing).
    if (inline || slots.size === 0) for (const job of queue.splice(0)) answer(job, parse(job.raw));
    while (queue.length > 0) {
      let best: Slot | null = null;
      for (const slot of slots) {
        if (slot.ready && !slot.slow && slot.jobs.length < PER_THREAD && (!best || slot.jobs.length < best.jobs.length)) best = slot;
      }
      if (!best) break;
      const job = queue.shift()!;
      best.jobs.push(job);
      if (best.jobs.length === 1) armHead(best);
      else if (!best.slowTimer) {
        const head = best.jobs[0];
        best.slowTimer = setTimeout(() => turnedSlow(best!, head), SLOW_MS);
      }
      best.worker.postMessage({ id: job.id, raw: job.raw } satisfies ParseRequest);
    }
    if (drained && queue.length === 0 && ![...slots].some((s) => s.jobs.length > 0)) drained();
  }

  function overBudget(slot: Slot, job: Job): void {
    if (slot.jobs[0] !== job) return;
    slot.retired = true;
    const [, ...behind] = end(slot);
    void slot.worker.terminate();
    given?.inc({ reason: PARSE_TIMEOUT });
    log?.warn({ code: 'MT_ERR_PARSE_TIMEOUT', size: job.raw.length, budget_ms: opts.timeoutMs }, 'message not parsed within its budget; stored unparsed');
    answer(job, unknownReport(`${PARSE_TIMEOUT}: not parsed within ${opts.timeoutMs} ms`));
    // The ones behind it were never started: another thread takes them.
    requeue(behind);
    if (!closed) spawn();
    dispatch();
  }

  for (let i = 0; i < size; i++) spawn();

  return {
    parse(raw) {
      if (closed) return Promise.resolve(parse(raw));
      return new Promise<Report>((resolve) => {
        queue.push({ id: nextId++, raw, done: false, moved: false, resolve });
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
