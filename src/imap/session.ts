import { setTimeout as delay } from 'node:timers/promises';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type { App } from '../app.js';
import type { InboundEnvelope, IngestOutcome } from '../ingest/types.js';
import type { Log } from '../log.js';
import { imapEnvelope } from './envelope.js';
import type { MailboxSpec } from './mailbox-url.js';
import type { ImapMetrics } from './metrics.js';
import { claimMailbox, saveProgress, type MailboxState } from './state.js';

/** The ingest path (src/ingest): stores the raw bytes idempotently; throws only when it cannot. */
export type IngestFn = (raw: Buffer, envelope: InboundEnvelope, opts?: { unparseable?: string }) => Promise<IngestOutcome>;

export interface SessionContext {
  app: App;
  spec: MailboxSpec;
  ingest: IngestFn;
  /** This poller's lease owner id. */
  owner: string;
  pollIntervalMs: number;
  leaseMs: number;
  maxSize: number;
  metrics: ImapMetrics;
  log: Log;
  signal: AbortSignal;
  /** Called after each completed poll: the connection works, the reconnect backoff starts over. */
  onHealthy(): void;
}

/** Why a session ended without an error. */
export type SessionEnd = 'stopped' | 'busy' | 'lease-lost';

/** UIDs listed per round trip; the next batch follows at once. */
const BATCH = 200;
/** Messages (and bytes) fetched with one FETCH and filed with one command. */
const CHUNK = 25;
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Tries of one message while the database answers: a message that keeps failing is a poison message. */
const ATTEMPTS = 3;

class DatabaseDown extends Error {
  readonly code = 'MT_ERR_IMAP_DATABASE';
}

/** A failed state read/write is the database's problem, not the mailbox's: say so in the logs. */
async function stateWrite<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new DatabaseDown(`database unavailable for the mailbox state: ${(err as Error).message}`);
  }
}

/**
 * One connection to one mailbox: claim it, drain it, then wait (IDLE, or a timer when the server
 * has none) and drain again, until stopped. Throws when the connection or the database fails; the
 * caller reconnects with backoff. Each message is filed (moved, flagged, deleted) only after ingest
 * committed its raw bytes, and its UID is saved only after that: a crash in between makes the next
 * session ingest it again, which ingest's sha256 idempotency turns into a no-op.
 */
export async function runSession(ctx: SessionContext): Promise<SessionEnd> {
  const { app, spec } = ctx;
  const db = app.database.db;
  const claimed = await stateWrite(claimMailbox(db, spec.id, ctx.owner, ctx.leaseMs));
  if (!claimed) return 'busy';
  if (ctx.signal.aborted) return 'stopped';
  let state: MailboxState = claimed;

  const client = new ImapFlow({
    host: spec.host,
    port: spec.port,
    secure: spec.tls === 'tls',
    doSTARTTLS: spec.tls === 'starttls' ? true : spec.tls === 'off' ? false : undefined,
    tls: { rejectUnauthorized: !spec.insecure },
    auth: { user: spec.user, pass: spec.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: 30_000,
    // An oversized message is fetched cut to maxSize: nothing bigger is expected, so nothing bigger is buffered.
    maxLiteralSize: ctx.maxSize + 65_536,
    clientInfo: { name: 'mailtrail' },
  });
  let changed = true;
  let wake: () => void = () => {};
  client.on('exists', () => {
    changed = true;
    wake();
  });
  client.on('close', () => wake());
  // Without a listener an 'error' event would crash the process; the failing command reports it too.
  client.on('error', (err) => ctx.log.debug({ err: err.message }, 'imap connection error'));

  // A stop while still connecting (a server that does not answer) must not wait for the timeout.
  const abandon = () => client.close();
  ctx.signal.addEventListener('abort', abandon, { once: true });
  try {
    await client.connect();
    ctx.metrics.connected.set({ mailbox: spec.id }, 1);
    await ensureFolders(client, ctx);
    const box = await client.mailboxOpen(spec.folder);
    ctx.signal.removeEventListener('abort', abandon);
    const uidvalidity = Number(box.uidValidity);
    if (state.uidvalidity !== uidvalidity) {
      // The server renumbered the folder: old UIDs mean nothing, so read it all again (ingest dedupes).
      if (state.uidvalidity !== null) ctx.log.warn({ mailbox: spec.id, was: state.uidvalidity, now: uidvalidity }, 'UIDVALIDITY changed; rescanning the folder');
      state = { uidvalidity, lastUid: 0 };
      if (!(await stateWrite(saveProgress(db, spec.id, ctx.owner, state, ctx.leaseMs)))) return 'lease-lost';
    }
    const idle = client.capabilities.has('IDLE');
    ctx.log.info({ mailbox: spec.id, uidvalidity, lastUid: state.lastUid, idle }, 'imap mailbox open');

    while (!ctx.signal.aborted) {
      changed = false;
      const pass = await drain(client, ctx, state);
      if (pass === 'lease-lost') return pass;
      ctx.metrics.lastPoll.set(spec.id, app.clock.now());
      ctx.onHealthy();
      if (pass === 'more') continue;
      if (ctx.signal.aborted) break;
      if (!(await stateWrite(claimMailbox(db, spec.id, ctx.owner, ctx.leaseMs)))) return 'lease-lost';
      if (!changed) await waitForChange(client, ctx, idle, (w) => (wake = w));
      if (!client.usable && !ctx.signal.aborted) throw new Error('connection closed by the server');
    }
    return 'stopped';
  } finally {
    ctx.signal.removeEventListener('abort', abandon);
    ctx.metrics.connected.set({ mailbox: spec.id }, 0);
    if (client.usable) await client.logout().catch(() => client.close());
    else client.close();
  }
}

async function ensureFolders(client: ImapFlow, ctx: SessionContext): Promise<void> {
  const folders = [ctx.spec.errorFolder, ...(ctx.spec.after.action === 'move' ? [ctx.spec.after.folder] : [])];
  for (const folder of folders) {
    try {
      await client.mailboxCreate(folder);
    } catch (err) {
      // Often only "already exists" in a server's own words; a real problem shows when filing fails.
      ctx.log.debug({ mailbox: ctx.spec.id, folder, err: (err as Error).message }, 'could not create folder');
    }
  }
}

/** Deals with the messages after lastUid, oldest first. 'more' when a full batch was taken. */
async function drain(client: ImapFlow, ctx: SessionContext, state: MailboxState): Promise<'done' | 'more' | 'lease-lost'> {
  const { spec, metrics } = ctx;
  const found = await client.search({ uid: `${state.lastUid + 1}:*` }, { uid: true });
  if (!Array.isArray(found)) throw new Error('the server refused UID SEARCH');
  // `n:*` always matches the last message, even when its UID is below n.
  const uids = found.filter((u) => u > state.lastUid).sort((a, b) => a - b).slice(0, BATCH);
  if (uids.length === 0) {
    metrics.oldest.set({ mailbox: spec.id }, 0);
    return 'done';
  }
  const listed = await client.fetchAll(uids.join(','), { uid: true, size: true, internalDate: true }, { uid: true });
  listed.sort((a, b) => a.uid - b.uid);
  const parts = chunks(listed, ctx.maxSize);
  // The next chunk's bytes travel while this chunk is being ingested (IMAP and database overlap).
  let next = fetchSources(client, ctx, parts[0]);
  for (const [i, chunk] of parts.entries()) {
    const sources = await next;
    next = i + 1 < parts.length ? fetchSources(client, ctx, parts[i + 1]) : Promise.resolve(new Map());
    // Leaving early (stop, lease lost, failure) abandons the prefetch: its failure is no news.
    next.catch(() => undefined);
    if (ctx.signal.aborted) return 'done';
    metrics.oldest.set({ mailbox: spec.id }, ageSeconds(chunk[0], ctx.app.clock.now()));
    const last = await handleChunk(client, ctx, state, chunk, sources);
    if (last === 0) return 'done';
    state.lastUid = last;
    if (!(await stateWrite(saveProgress(ctx.app.database.db, spec.id, ctx.owner, state, ctx.leaseMs)))) return 'lease-lost';
  }
  if (ctx.signal.aborted) return 'done';
  if (uids.length === BATCH) return 'more';
  metrics.oldest.set({ mailbox: spec.id }, 0);
  return 'done';
}

/**
 * Runs of messages handled together: one FETCH for their bytes, one command to file them, one
 * progress write, instead of one each per message. Bounded in count and bytes held in memory.
 */
function chunks(items: FetchMessageObject[], maxSize: number): FetchMessageObject[][] {
  const out: FetchMessageObject[][] = [];
  let current: FetchMessageObject[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Math.min(item.size ?? 0, maxSize);
    if (current.length > 0 && (current.length >= CHUNK || bytes + size > CHUNK_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** One FETCH for the bytes of a chunk's messages; oversized ones are fetched cut, one by one, later. */
async function fetchSources(client: ImapFlow, ctx: SessionContext, chunk: FetchMessageObject[]): Promise<Map<number, Buffer>> {
  const whole = chunk.filter((m) => (m.size ?? 0) <= ctx.maxSize).map((m) => m.uid);
  const sources = new Map<number, Buffer>();
  if (whole.length === 0) return sources;
  for (const m of await client.fetchAll(whole.join(','), { uid: true, source: true }, { uid: true })) if (m.source) sources.set(m.uid, m.source);
  return sources;
}

/**
 * Ingests a chunk message by message, then files the stored ones and the failed ones. Returns the
 * last UID dealt with (0: none, stopped first). Stopping ends the chunk after the message in flight.
 */
async function handleChunk(
  client: ImapFlow,
  ctx: SessionContext,
  state: MailboxState,
  chunk: FetchMessageObject[],
  sources: Map<number, Buffer>,
): Promise<number> {
  const { spec, metrics, log } = ctx;
  const filed = { stored: [] as number[], failed: [] as number[] };
  let last = 0;
  for (const item of chunk) {
    if (ctx.signal.aborted) break;
    last = item.uid;
    metrics.messages.inc({ mailbox: spec.id, outcome: 'seen' });
    const size = item.size ?? 0;
    const oversized = size > ctx.maxSize;
    const raw = oversized
      ? (await client.fetchOne(String(item.uid), { uid: true, source: { maxLength: ctx.maxSize } }, { uid: true }) || undefined)?.source
      : sources.get(item.uid);
    if (!raw) {
      log.info({ mailbox: spec.id, uid: item.uid }, 'message vanished before it was fetched (expunged elsewhere)');
      continue;
    }
    const where = `imap://${spec.user}@${spec.host}:${spec.port}/${spec.folder};UIDVALIDITY=${state.uidvalidity}/;UID=${item.uid}`;
    const unparseable = oversized ? `oversized: ${size} bytes, more than MAILTRAIL_IMAP_MAX_SIZE ${ctx.maxSize}; stored cut to that size` : undefined;
    const outcome = await ingestWithRetry(ctx, raw, imapEnvelope(raw, where), item.uid, unparseable);
    const failed = outcome === 'poison' || oversized || outcome.kind === 'unknown';
    (failed ? filed.failed : filed.stored).push(item.uid);
    const fields = { mailbox: spec.id, uid: item.uid, size, ...(outcome === 'poison' ? {} : { reportId: outcome.reportId, kind: outcome.kind, duplicate: outcome.duplicate }) };
    if (failed) log.warn({ ...fields, code: 'MT_ERR_IMAP_UNPARSEABLE', reason: unparseable ?? (outcome === 'poison' ? 'ingest kept failing' : 'unparseable') }, 'mailbox message failed; filing it in the error folder');
    else log.info(fields, 'mailbox message stored');
  }
  await fileMessages(client, ctx, filed.stored, false);
  await fileMessages(client, ctx, filed.failed, true);
  metrics.messages.inc({ mailbox: spec.id, outcome: 'stored' }, filed.stored.length);
  metrics.messages.inc({ mailbox: spec.id, outcome: 'failed' }, filed.failed.length);
  return last;
}

/**
 * Ingest, retried a few times while the database answers. The database being down ends the
 * session (the message stays, unfiled, for the next one); a message that keeps failing with the
 * database up would block the mailbox forever, so it is given up on and filed as failed.
 */
async function ingestWithRetry(
  ctx: SessionContext,
  raw: Buffer,
  envelope: InboundEnvelope,
  uid: number,
  unparseable: string | undefined,
): Promise<IngestOutcome | 'poison'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.ingest(raw, envelope, unparseable ? { unparseable } : undefined);
    } catch (err) {
      if (!(await ctx.app.database.ping())) throw new DatabaseDown(`database unavailable while storing UID ${uid}: ${(err as Error).message}`);
      if (attempt >= ATTEMPTS) {
        ctx.log.error({ err, mailbox: ctx.spec.id, uid, code: 'MT_ERR_IMAP_INGEST' }, 'ingest keeps failing on this message; filing it in the error folder');
        return 'poison';
      }
      await delay(500 * attempt);
    }
  }
}

/**
 * Moves, flags or deletes stored messages. A server refusal is logged and the UIDs still count as
 * done (retrying would loop); a dropped connection throws, so the messages are read again later.
 */
async function fileMessages(client: ImapFlow, ctx: SessionContext, uids: number[], failed: boolean): Promise<void> {
  if (uids.length === 0) return;
  const range = uids.join(',');
  const after = failed ? ({ action: 'move', folder: ctx.spec.errorFolder } as const) : ctx.spec.after;
  let ok: boolean;
  try {
    if (after.action === 'move') ok = !!(await client.messageMove(range, after.folder, { uid: true }));
    else if (after.action === 'flag') ok = await client.messageFlagsAdd(range, [after.flag], { uid: true });
    else ok = await client.messageDelete(range, { uid: true });
  } catch (err) {
    if (!client.usable) throw err;
    ctx.log.debug({ err: (err as Error).message }, 'filing command failed');
    ok = false;
  }
  if (!ok) {
    const action = after.action === 'move' ? `move:${after.folder}` : after.action === 'flag' ? `flag:${after.flag}` : 'delete';
    ctx.log.error({ mailbox: ctx.spec.id, uids: range, action, code: 'MT_ERR_IMAP_FILE' }, 'server refused to file stored messages; they stay in the folder and are not read again');
  }
}

/** Until new mail is announced (IDLE), the poll interval passes, the connection drops or stop. */
async function waitForChange(client: ImapFlow, ctx: SessionContext, idle: boolean, setWake: (w: () => void) => void): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  setWake(stop);
  ctx.signal.addEventListener('abort', stop, { once: true });
  const idling = idle ? client.idle().catch(() => undefined) : undefined;
  try {
    await delay(ctx.pollIntervalMs, undefined, { signal: ac.signal }).catch(() => undefined);
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    setWake(() => {});
  }
  if (idling) {
    // Any command ends IDLE (imapflow sends DONE first).
    if (client.usable) await client.noop().catch(() => undefined);
    await idling;
  }
}

function ageSeconds(item: FetchMessageObject, now: Date): number {
  const at = item.internalDate ? new Date(item.internalDate).getTime() : now.getTime();
  return Math.max(0, (now.getTime() - at) / 1000);
}
