import type { App } from '../app.js';
import { parseReceiptText } from '../core/sms-receipt.js';
import { storeInboundBatch, type InboundResult } from './inbound.js';
import { SmscLink, type InboundSm } from './smsc-link.js';

/** How long a receipt waits for the parts of its message to be committed (it can beat them). */
const PART_COMMIT_WAIT_MS = 10_000;
/** Inbound PDUs stored in one transaction at most. */
const INBOUND_BATCH = 200;

interface QueuedInbound {
  smsc: string;
  sm: InboundSm;
  resolve(r: InboundResult): void;
  reject(err: Error): void;
}

/**
 * The SMPP links of one worker process (one per MAILTRAIL_SMPP_URL entry, two for bind=split),
 * kept across send rounds. Inbound PDUs on any link are stored through src/sms/inbound.ts.
 */
export class SmsGateway {
  readonly links: SmscLink[];
  private turn = 0;
  private ref = Math.floor(Math.random() * 256);
  /** `smsc id` of parts whose submit_sm_resp came but whose sms_parts row is not committed yet. */
  private readonly uncommitted = new Map<string, Promise<void>>();
  /** Inbound PDUs waiting for the running write: they go together in the next transaction. */
  private queued: QueuedInbound[] = [];
  private writing = false;

  constructor(private readonly app: App) {
    const log = app.log.child({ role: 'worker', job: 'sms' });
    this.links = app.config.MAILTRAIL_SMPP_URL.flatMap((spec) =>
      (spec.bind === 'split' ? (['transmitter', 'receiver'] as const) : (['transceiver'] as const)).map(
        (mode) => new SmscLink(spec, mode, log, (sm, link) => this.inbound(link.spec.smsc, sm)),
      ),
    );
  }

  start(): void {
    for (const l of this.links) l.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.links.map((l) => l.stop()));
  }

  /** Links that submit and are bound now. */
  bound(): SmscLink[] {
    return this.links.filter((l) => l.canSubmit && l.state === 'bound');
  }

  /** A bound submitting link, round robin; any submitting link when none is bound (its submit waits). */
  pick(): SmscLink | null {
    const ready = this.bound();
    const pool = ready.length > 0 ? ready : this.links.filter((l) => l.canSubmit);
    if (pool.length === 0) return null;
    return pool[this.turn++ % pool.length];
  }

  /** The concatenation reference of the next multi-part message (8 bits, wraps). */
  nextRef(): number {
    this.ref = (this.ref + 1) & 0xff;
    return this.ref;
  }

  /** Receipts for `ids` wait until `committed` settles before they are matched. */
  holdReceipts(smsc: string, ids: readonly string[], committed: Promise<unknown>): void {
    const settled = committed.then(
      () => undefined,
      () => undefined,
    );
    for (const id of ids) this.uncommitted.set(`${smsc} ${id}`, settled);
    void settled.then(() => {
      for (const id of ids) if (this.uncommitted.get(`${smsc} ${id}`) === settled) this.uncommitted.delete(`${smsc} ${id}`);
    });
  }

  private async inbound(smsc: string, sm: InboundSm): Promise<number> {
    // A submit_sm_resp and its receipt can come in one socket read: the resp's submitter resumes
    // (and holds the receipt) in a microtask, so look for holds only after those have run.
    await new Promise((r) => setImmediate(r));
    const id = sm.receiptedMessageId ?? parseReceiptText(sm.text)?.id;
    const wait = id ? this.uncommitted.get(`${smsc} ${id}`) : undefined;
    if (wait) await Promise.race([wait, new Promise((r) => setTimeout(r, PART_COMMIT_WAIT_MS))]);
    const r = await new Promise<InboundResult>((resolve, reject) => {
      this.queued.push({ smsc, sm, resolve, reject });
      void this.drain();
    });
    this.app.log.debug({ role: 'worker', job: 'sms', smsc, ...r }, 'inbound SMS stored');
    return 0;
  }

  /** Group commit: what arrives while a write runs is written together next (answered after it). */
  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0, INBOUND_BATCH);
        const results = await storeInboundBatch(this.app, batch).catch((err: unknown) => batch.map(() => (err instanceof Error ? err : new Error(String(err)))));
        for (const [i, q] of batch.entries()) {
          const r = results[i];
          if (r instanceof Error) q.reject(r);
          else q.resolve(r);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

const gateways = new WeakMap<App, SmsGateway>();

/** The process's gateway for this app, started on first use; null when no SMSC is configured. */
export function gatewayFor(app: App): SmsGateway | null {
  if (app.config.MAILTRAIL_SMPP_URL.length === 0) return null;
  let g = gateways.get(app);
  if (!g) {
    g = new SmsGateway(app);
    gateways.set(app, g);
    g.start();
  }
  return g;
}

/** Closes the app's gateway (worker stop). */
export async function stopGateway(app: App): Promise<void> {
  const g = gateways.get(app);
  gateways.delete(app);
  await g?.stop();
}
