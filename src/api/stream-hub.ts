import type { App } from '../app.js';

const POLL_MS = 250;

interface Waiter {
  tenantId: string;
  above: number;
  wake: (woken: boolean) => void;
}

/**
 * What the open event streams of this process share: one poll of the watched tenants' event
 * sequences every 250 ms, however many streams are open (a thousand streams cost four small
 * queries a second, not four thousand), and the list of streams to end at shutdown.
 */
export class StreamHub {
  private readonly open = new Set<AbortController>();
  private readonly waiters = new Set<Waiter>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly app: App) {}

  /** Registers a stream; the returned function unregisters it. */
  add(c: AbortController): () => void {
    this.open.add(c);
    return () => this.open.delete(c);
  }

  /** Ends every open stream (server shutdown must not wait for clients). */
  closeAll(): void {
    for (const c of this.open) c.abort();
  }

  /** Current sequence of a tenant: the id of its last committed event. */
  async currentSeq(tenantId: string): Promise<number> {
    const row = await this.app.database.db.selectFrom('tenants').select('event_seq').where('id', '=', tenantId).executeTakeFirstOrThrow();
    return row.event_seq;
  }

  /**
   * Resolves true once the tenant has committed an event after `above`, false after `maxMs` or
   * when `signal` aborts.
   */
  waitBeyond(tenantId: string, above: number, signal: AbortSignal, maxMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const waiter: Waiter = { tenantId, above, wake: (woken) => done(woken) };
      const timeout = setTimeout(() => done(false), maxMs);
      const onAbort = () => done(false);
      const done = (woken: boolean) => {
        clearTimeout(timeout);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        resolve(woken);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.waiters.size === 0) return;
    this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  private async poll(): Promise<void> {
    const tenants = [...new Set([...this.waiters].map((w) => w.tenantId))];
    try {
      if (tenants.length > 0) {
        const rows = await this.app.database.db.selectFrom('tenants').select(['id', 'event_seq']).where('id', 'in', tenants).execute();
        const seq = new Map(rows.map((r) => [r.id, r.event_seq]));
        for (const w of [...this.waiters]) if ((seq.get(w.tenantId) ?? 0) > w.above) w.wake(true);
      }
    } catch (err) {
      // Streams keep waiting (and sending heartbeats); the next poll tries again.
      this.app.log.error({ err, code: 'MT_ERR_STREAM_POLL' }, 'event stream poll failed');
    } finally {
      this.timer = undefined;
      this.schedule();
    }
  }
}
