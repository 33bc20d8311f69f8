import smpp, { type Pdu, type Session } from 'smpp';
import type { Logger } from 'pino';
import { decodeSmsText } from '../core/sms-encoding.js';
import { smppStatusKind, smppStatusName } from '../core/sms-smpp-status.js';
import type { SmscSpec } from './smpp-url.js';

/** One submit_sm, built by the caller (src/sms/pdus.ts): data_coding is always set. */
export interface SubmitRequest {
  destination: string;
  source: string;
  sourceTon: number;
  sourceNpi: number;
  dataCoding: number;
  esmClass: number;
  /** UDH (if any) + encoded text; empty when the text goes in messagePayload. */
  shortMessage: Buffer;
  messagePayload?: Buffer;
}

export type SubmitResult =
  | { ok: true; messageId: string }
  | { ok: false; kind: 'throttled' | 'temporary'; status: number; name: string }
  | { ok: false; kind: 'permanent'; status: number; name: string; reason: string; bounce_class: 'hard' | 'soft' }
  /** Never written to a socket (not bound in time, no window slot, socket not writable, stopping): safe to send again. */
  | { ok: false; kind: 'unsent'; error: string }
  /**
   * Written, but no submit_sm_resp came (link closed or timed out): the SMSC may have accepted it
   * (an SMSC that closes right after writing the resp loses it with the connection) or not; SMPP
   * cannot tell, so sending it again may send it twice.
   */
  | { ok: false; kind: 'unconfirmed'; error: string };

/** A deliver_sm or data_sm from the SMSC: a delivery receipt or an inbound (MO) message. */
export interface InboundSm {
  command: 'deliver_sm' | 'data_sm';
  sourceAddr: string;
  destinationAddr: string;
  esmClass: number;
  dataCoding: number;
  text: string;
  receiptedMessageId: string | null;
  messageState: number | null;
}

/** Stores an inbound PDU; resolves with the command_status to answer (0, or 0x64 to have it resent). */
export type InboundHandler = (sm: InboundSm, link: SmscLink) => Promise<number>;

export type BindMode = 'transceiver' | 'transmitter' | 'receiver';

const ESME_RX_T_APPN = 0x64;
const MAX_BACKOFF_MS = 30_000;
/** After a refused bind (bad credentials) the SMSC is not hammered: at least this long between tries. */
const BIND_REFUSED_BACKOFF_MS = 10_000;

interface Inflight {
  resolve(r: SubmitResult): void;
  timer: NodeJS.Timeout;
}

/**
 * One bound SMPP session to an SMSC, kept up: a fresh `smpp` Session on every (re)connect, with
 * backoff (the package's `connect()` after a close does not rebind on Node 20), at most
 * `window` unacknowledged submits, `rate` submits per second, enquire_link both ways, every
 * waiting submit failed on close or after `timeout` (the package never calls them back), and
 * every deliver_sm/data_sm answered once the handler has stored it.
 */
export class SmscLink {
  state: 'connecting' | 'bound' | 'stopped' = 'connecting';
  /** Why the link is not bound, for logs and the worker's error: never holds the password. */
  lastError: string | null = null;
  private session: Session | null = null;
  private readonly inflight = new Map<number, Inflight>();
  private wakers: Array<() => void> = [];
  private failures = 0;
  private bindRefused = false;
  private nextSubmitAt = 0;
  private pausedUntil = 0;
  private throttleMs = 0;
  private reconnect: NodeJS.Timeout | null = null;
  private enquire: NodeJS.Timeout | null = null;
  private inboundBusy = new Set<Promise<unknown>>();

  constructor(
    readonly spec: SmscSpec,
    readonly mode: BindMode,
    private readonly log: Logger,
    private readonly onInbound: InboundHandler,
  ) {}

  get canSubmit(): boolean {
    return this.mode !== 'receiver';
  }

  start(): void {
    if (this.state === 'stopped' || this.session) return;
    this.open();
  }

  /** Unbinds (briefly waiting for inbound PDUs being stored), then closes. Waiting submits fail. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.reconnect) clearTimeout(this.reconnect);
    await Promise.race([Promise.allSettled([...this.inboundBusy]), sleep(2_000)]);
    const s = this.session;
    if (!s) return this.wake();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => s.destroy(), 1_000);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (!s.send(new smpp.PDU('unbind', {}), () => s.destroy())) s.destroy();
    });
    this.wake();
  }

  /** Resolves true once bound, false if not within `ms` (or stopped). */
  async waitBound(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (this.state !== 'bound') {
      if (this.state === 'stopped' || Date.now() >= until) return false;
      await this.changed(until - Date.now());
    }
    return true;
  }

  /** Submits one PDU within the window and rate; waits at most `waitMs` for a bound session and a slot. */
  async submit(req: SubmitRequest, waitMs: number): Promise<SubmitResult> {
    const until = Date.now() + waitMs;
    for (;;) {
      const now = Date.now();
      if (this.state === 'stopped') return { ok: false, kind: 'unsent', error: `${this.spec.id}: stopping` };
      if (this.state === 'bound' && this.inflight.size < this.spec.window && now >= this.pausedUntil && now >= this.nextSubmitAt) break;
      if (now >= until) return { ok: false, kind: 'unsent', error: `${this.spec.id}: ${this.state === 'bound' ? 'no free window slot' : `not bound (${this.lastError ?? 'connecting'})`}` };
      const timed = Math.max(this.pausedUntil, this.nextSubmitAt) - now;
      await this.changed(Math.min(until - now, this.state === 'bound' && timed > 0 ? timed : until - now));
    }
    if (this.spec.rate > 0) this.nextSubmitAt = Math.max(Date.now(), this.nextSubmitAt) + 1000 / this.spec.rate;
    const session = this.session as Session;
    const pdu = new smpp.PDU('submit_sm', {
      source_addr_ton: req.sourceTon,
      source_addr_npi: req.sourceNpi,
      source_addr: req.source,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: req.destination,
      esm_class: req.esmClass,
      registered_delivery: 1,
      data_coding: req.dataCoding,
      short_message: req.shortMessage,
      ...(req.messagePayload ? { message_payload: req.messagePayload } : {}),
    });
    return new Promise<SubmitResult>((resolve) => {
      let seq = 0;
      const done = (r: SubmitResult) => {
        const f = this.inflight.get(seq);
        if (!f) return;
        clearTimeout(f.timer);
        this.inflight.delete(seq);
        this.wake();
        resolve(r);
      };
      const sent = session.send(pdu, (resp) => done(this.resultOf(resp)));
      if (!sent) {
        // The socket is going away before its close event: stop submitting on it (a retry would
        // spin without ever yielding to that event), and let the close start a fresh session.
        if (this.state === 'bound') this.state = 'connecting';
        session.destroy();
        return resolve({ ok: false, kind: 'unsent', error: `${this.spec.id}: socket not writable` });
      }
      seq = pdu.sequence_number;
      const timer = setTimeout(() => {
        done({ ok: false, kind: 'unconfirmed', error: `${this.spec.id}: no submit_sm_resp within ${this.spec.timeoutMs}ms` });
        // A session that stops answering is dead: a fresh one is the only way forward.
        session.destroy();
      }, this.spec.timeoutMs);
      this.inflight.set(seq, { resolve, timer });
    });
  }

  private resultOf(resp: Pdu): SubmitResult {
    if (resp.command === 'generic_nack') {
      return { ok: false, kind: 'temporary', status: resp.command_status, name: `generic_nack ${smppStatusName(resp.command_status)}` };
    }
    const k = smppStatusKind(resp.command_status);
    if (k.kind === 'ok') {
      this.throttleMs = 0;
      return { ok: true, messageId: String(resp.message_id ?? '') };
    }
    if (k.kind === 'throttled') {
      // Back off the whole link, doubling while the SMSC keeps refusing.
      this.throttleMs = Math.min(Math.max(this.throttleMs * 2, 100), 2_000);
      this.pausedUntil = Date.now() + this.throttleMs;
      return { ok: false, kind: 'throttled', status: resp.command_status, name: k.name };
    }
    if (k.kind === 'permanent') return { ok: false, kind: 'permanent', status: resp.command_status, name: k.name, reason: k.reason, bounce_class: k.bounce_class };
    return { ok: false, kind: 'temporary', status: resp.command_status, name: k.name };
  }

  private open(): void {
    this.state = 'connecting';
    const s = smpp.connect({ host: this.spec.host, port: this.spec.port, tls: this.spec.tls });
    this.session = s;
    const connectTimer = setTimeout(() => {
      this.lastError = `${this.spec.id}: connect timed out after ${this.spec.timeoutMs}ms`;
      s.destroy();
    }, this.spec.timeoutMs);
    s.on(this.spec.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      this.bind(s);
    });
    s.on('error', (err: Error) => {
      this.lastError = `${this.spec.id}: ${err.message}`;
    });
    s.on('close', () => {
      clearTimeout(connectTimer);
      this.closed(s);
    });
    s.on('pdu', (pdu: Pdu) => this.received(s, pdu));
  }

  private bind(s: Session): void {
    const bind = s[`bind_${this.mode}`] as (o: Record<string, unknown>, cb: (pdu: Pdu) => void) => boolean;
    bind.call(s, { system_id: this.spec.systemId, password: this.spec.password, system_type: this.spec.systemType, interface_version: 0x34 }, (resp) => {
      if (resp.command_status !== 0) {
        this.bindRefused = true;
        this.lastError = `${this.spec.id}: bind_${this.mode} refused: ${smppStatusName(resp.command_status)} (0x${resp.command_status.toString(16).padStart(2, '0')}); check the system_id and password in MAILTRAIL_SMPP_URL`;
        this.log.error({ code: 'MT_ERR_SMPP_BIND', smsc: this.spec.id, status: smppStatusName(resp.command_status) }, this.lastError);
        s.destroy();
        return;
      }
      this.state = 'bound';
      this.failures = 0;
      this.bindRefused = false;
      this.lastError = null;
      this.log.info({ smsc: this.spec.id, mode: this.mode }, 'SMPP session bound');
      this.enquire = setInterval(() => {
        const timer = setTimeout(() => {
          this.lastError = `${this.spec.id}: no enquire_link_resp within ${this.spec.timeoutMs}ms`;
          s.destroy();
        }, this.spec.timeoutMs);
        if (!s.send(new smpp.PDU('enquire_link', {}), () => clearTimeout(timer))) clearTimeout(timer);
      }, this.spec.enquireMs);
      this.wake();
    });
  }

  private closed(s: Session): void {
    if (this.session !== s) return;
    this.session = null;
    if (this.enquire) clearInterval(this.enquire);
    this.enquire = null;
    const failed = [...this.inflight.values()];
    this.inflight.clear();
    for (const f of failed) {
      clearTimeout(f.timer);
      f.resolve({ ok: false, kind: 'unconfirmed', error: `${this.spec.id}: connection closed before submit_sm_resp` });
    }
    if (this.state === 'stopped') return this.wake();
    this.state = 'connecting';
    this.failures++;
    const base = Math.min(250 * 2 ** Math.min(this.failures - 1, 10), MAX_BACKOFF_MS);
    const delay = Math.max(this.bindRefused ? BIND_REFUSED_BACKOFF_MS : 0, base * (0.75 + Math.random() * 0.5));
    if (!this.bindRefused) this.log.warn({ code: 'MT_ERR_SMPP_CLOSED', smsc: this.spec.id, retry_ms: Math.round(delay), error: this.lastError }, 'SMPP connection closed; reconnecting');
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      if (this.state !== 'stopped') this.open();
    }, delay);
    this.wake();
  }

  private received(s: Session, pdu: Pdu): void {
    switch (pdu.command) {
      case 'enquire_link':
        s.send(pdu.response());
        return;
      case 'unbind':
        s.send(pdu.response(), undefined, () => s.destroy());
        return;
      case 'deliver_sm':
      case 'data_sm': {
        const sm = inboundOf(pdu);
        const work = this.onInbound(sm, this)
          .catch((err: unknown) => {
            this.log.error({ err, code: 'MT_ERR_SMS_INBOUND', smsc: this.spec.id }, 'could not store an inbound SMS; the SMSC is asked to resend it');
            return ESME_RX_T_APPN;
          })
          .then((status) => {
            // Answered only once stored (or refused temporarily): the SMSC keeps it until then.
            s.send(status === 0 ? pdu.response() : pdu.response({ command_status: status }));
          })
          .finally(() => this.inboundBusy.delete(work));
        this.inboundBusy.add(work);
        return;
      }
      default:
        if (!pdu.isResponse()) s.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: 0x03 }));
    }
  }

  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(1, ms));
      const waker = () => done();
      this.wakers.push(waker);
      function done() {
        clearTimeout(t);
        resolve();
      }
    });
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }
}

function text(v: unknown, dataCoding: number): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return decodeSmsText(v, dataCoding);
  const m = (v as { message?: unknown }).message;
  return m === undefined ? '' : text(m, dataCoding);
}

function inboundOf(pdu: Pdu): InboundSm {
  const dataCoding = Number(pdu.data_coding ?? 0);
  const short = text(pdu.short_message, dataCoding);
  const rid = pdu.receipted_message_id;
  const state = pdu.message_state;
  return {
    command: pdu.command as 'deliver_sm' | 'data_sm',
    sourceAddr: String(pdu.source_addr ?? ''),
    destinationAddr: String(pdu.destination_addr ?? ''),
    esmClass: Number(pdu.esm_class ?? 0),
    dataCoding,
    text: (short || text(pdu.message_payload, dataCoding)).slice(0, 4_000),
    receiptedMessageId: typeof rid === 'string' && rid.replace(/\0+$/, '') !== '' ? rid.replace(/\0+$/, '') : null,
    messageState: typeof state === 'number' ? state : null,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
