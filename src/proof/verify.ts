import { createPublicKey, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { contentHash, sha256Hex, type JsonValue } from './canonical.js';
import { BUNDLE_FORMAT, bundleSchema, type Bundle, type BundleCheckpoint, type BundleEntry } from './bundle.js';
import { checkOpening } from './commitments.js';
import { GENESIS, checkpointDigest, checkpointMessage, entryHash, keyIdOf } from './format.js';
import { certificatesOf, parseToken, verifyToken } from './timestamp-token.js';

/**
 * The offline verifier: a bundle in, findings out. No database, no network, no clock: anyone can
 * run it (or rewrite it from the README) against a bundle and the operator's public key.
 */

export interface Finding {
  /** Where: "entry 17", "checkpoint 40", "report 3", "bundle". */
  at: string;
  problem: string;
}

export interface Verification {
  ok: boolean;
  problems: Finding[];
  /** Facts worth knowing that are not failures (purged bodies, unsigned tail). */
  notes: string[];
  /** Key id (sha256 of the SPKI DER) the checkpoints are signed with. */
  keyId: string | null;
  entries: number;
  /** Entries whose full content the bundle carries and that verified. */
  contents: number;
  checkpoints: number;
  /** Checkpoints whose RFC 3161 token verified: the TSA's time and name. */
  timestamps: { seq: number; genTime: string; tsa: string }[];
  /**
   * Which entries rest on a third party's time and which only on ours, as ranges of seq:
   * `tsa` set = no later than that TSA time; null = only our own checkpoint clock.
   */
  coverage: { from: number; to: number; checkpoint: number; at: string; tsa: { genTime: string; name: string } | null }[];
}

export interface VerifyOptions {
  /** The public key you trust (from /v1/proof/public-key); without it the bundle's own key is used. */
  trustedKeyPem?: string;
  /**
   * Accept entries after the last checkpoint as a note (`proof check` of a live chain). A bundle
   * must not have any: nothing proves them.
   */
  allowUnsigned?: boolean;
  /**
   * PEM of the CA certificate(s) the TSA certificate must chain to. Without it, a token's
   * signature and imprint are still checked, against the certificate it carries, and the result
   * says the TSA's identity was not checked.
   */
  tsaCaPem?: string;
}

// A raw report body is limited on the way in (SMTP/IMAP limits); this only bounds a hostile bundle.
const MAX_RAW_BYTES = 64 * 1024 * 1024;

export function verifyBundle(input: unknown, opts: VerifyOptions = {}): Verification {
  const out: Verification = { ok: false, problems: [], notes: [], keyId: null, entries: 0, contents: 0, checkpoints: 0, timestamps: [], coverage: [] };
  const problem = (at: string, text: string) => out.problems.push({ at, problem: text });
  const parsed = bundleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problem('bundle', `not a ${BUNDLE_FORMAT} file: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    return out;
  }
  const b = parsed.data;
  const key = checkKey(b, opts, problem);
  out.keyId = key ? keyIdOf(key) : null;
  const checkpoints = checkCheckpoints(b, key, problem);
  out.checkpoints = checkpoints.size;
  const entries = checkSegments(b, checkpoints, problem, out, opts.allowUnsigned === true);
  checkReports(b, entries, problem, out);
  checkScope(b, entries, problem);
  checkOpenings(b, entries, problem, out);
  const stamps = checkTimestamps(b, checkpoints, opts, problem, out);
  out.coverage = coverageOf(b, checkpoints, stamps);
  out.ok = out.problems.length === 0;
  return out;
}

type Problem = (at: string, text: string) => void;

function checkKey(b: Bundle, opts: VerifyOptions, problem: Problem): KeyObject | null {
  let key: KeyObject;
  try {
    key = createPublicKey(b.public_key.pem);
  } catch {
    problem('public key', 'is not a PEM public key');
    return null;
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    problem('public key', `is a ${key.asymmetricKeyType} key, not Ed25519`);
    return null;
  }
  const id = keyIdOf(key);
  if (id !== b.public_key.key_id) problem('public key', `its key_id should be ${id}, the bundle says ${b.public_key.key_id}`);
  if (opts.trustedKeyPem !== undefined) {
    let trusted: string;
    try {
      trusted = keyIdOf(createPublicKey(opts.trustedKeyPem));
    } catch {
      problem('trusted key', 'is not a PEM public key');
      return null;
    }
    if (trusted !== id) {
      problem('public key', `the bundle is signed with key ${id}, not with the key you trust (${trusted}): its checkpoints prove nothing`);
      return null;
    }
  }
  return key;
}

/** Checkpoints with a valid signature, by seq. */
function checkCheckpoints(b: Bundle, key: KeyObject | null, problem: Problem): Map<number, BundleCheckpoint> {
  const good = new Map<number, BundleCheckpoint>();
  let last: BundleCheckpoint | null = null;
  for (const c of [...b.checkpoints].sort((x, y) => x.seq - y.seq)) {
    const at = `checkpoint ${c.seq}`;
    if (c.chain !== b.chain) problem(at, `belongs to chain ${c.chain}, not ${b.chain}`);
    else if (good.has(c.seq) || last?.seq === c.seq) problem(at, 'appears twice');
    else if (!key) problem(at, 'cannot be checked without a valid public key');
    else if (c.key_id !== keyIdOf(key)) problem(at, `is signed with key ${c.key_id}, not the bundle's key`);
    else if (!verify(null, checkpointMessage({ ...c, at: new Date(c.at) }), key, Buffer.from(c.signature, 'base64'))) {
      problem(at, 'signature does not verify: the checkpoint was forged or altered');
    } else {
      if (last && Date.parse(c.at) < Date.parse(last.at)) {
        problem(at, `is dated ${c.at}, before checkpoint ${last.seq} (${last.at}): checkpoints out of order`);
      }
      good.set(c.seq, c);
    }
    last = c;
  }
  return good;
}

/** A verified entry with its content, for the report and scope checks. */
interface Proven {
  seq: number;
  kind: BundleEntry['kind'];
  content: Record<string, unknown> | null;
}

function checkSegments(
  b: Bundle,
  checkpoints: Map<number, BundleCheckpoint>,
  problem: Problem,
  out: Verification,
  allowUnsigned: boolean,
): Map<number, Proven> {
  const proven = new Map<number, Proven>();
  const full = !b.scope.message && !b.scope.from && !b.scope.to;
  const segments = [...b.segments].sort((x, y) => x.entries[0].seq - y.entries[0].seq);
  let before: { seq: number; hash: string } | null = null;
  for (const seg of segments) {
    const first = seg.entries[0].seq;
    const where = `segment ${first}..${seg.entries[seg.entries.length - 1].seq}`;
    // A full or time-range bundle is one unbroken run; a message bundle may skip between segments.
    if (before && first <= before.seq) problem(where, `overlaps the segment ending at entry ${before.seq}`);
    else if (!b.scope.message && (before ? first !== before.seq + 1 : full && first !== 1)) {
      problem(where, `entries ${before ? before.seq + 1 : 1}..${first - 1} are missing (deleted)`);
    } else if (before && first === before.seq + 1 && seg.prev !== before.hash) {
      problem(`entry ${first}`, `does not follow entry ${before.seq} (its prev is not that entry's hash)`);
    } else if (full && first === 1 && seg.prev !== GENESIS) problem('entry 1', 'the first entry must follow the genesis hash (64 zeros)');

    // Pass 1 locates what is wrong, resynchronising on the listed hashes after each break.
    let listedPrev = seg.prev;
    let expected = first;
    let prevSeq: number | null = null;
    const computed: string[] = [];
    for (const e of seg.entries) {
      const at = `entry ${e.seq}`;
      out.entries++;
      if (prevSeq !== null && e.seq <= prevSeq) problem(at, `comes after entry ${prevSeq}: entries reordered or duplicated`);
      else if (e.seq > expected) problem(at, `entries ${expected}..${e.seq - 1} are missing before it (deleted)`);
      let ch = e.content_hash;
      if (e.content === null) {
        problem(at, `${e.ref ?? e.kind}: its content is gone from the database (deleted)`);
      } else if (e.content !== undefined) {
        const content = e.content as JsonValue;
        let actual: string | null = null;
        try {
          actual = contentHash(content);
        } catch {
          problem(at, 'content is not canonical JSON');
        }
        if (actual !== null && actual !== e.content_hash) {
          problem(at, `${describe(e, content)}: content does not match its hash: the ${e.kind} was edited`);
        } else if (!isObject(content) || content.kind !== e.kind) {
          problem(at, `content kind ${isObject(content) ? String(content.kind) : '?'} does not match entry kind ${e.kind}`);
        } else {
          proven.set(e.seq, { seq: e.seq, kind: e.kind, content });
        }
        if (actual) ch = actual;
      }
      if (entryHash(b.chain, e.seq, listedPrev, e.content_hash) !== e.hash) {
        problem(at, `does not follow the entry before it (its hash does not chain): an entry was inserted, deleted or reordered here`);
      }
      computed.push(ch);
      listedPrev = e.hash;
      prevSeq = e.seq;
      expected = Math.max(expected, e.seq) + 1;
    }

    // Pass 2 decides: the head recomputed from the contents alone must be the signed head.
    let head = seg.prev;
    seg.entries.forEach((e, i) => {
      head = entryHash(b.chain, e.seq, head, computed[i]);
    });
    const last = seg.entries[seg.entries.length - 1].seq;
    if (seg.checkpoint === null) {
      if (allowUnsigned) out.notes.push(`entries ${first}..${last} are not under a signed checkpoint yet`);
      else problem(where, 'is not covered by any signed checkpoint: nothing proves these entries');
    } else {
      const cp = checkpoints.get(seg.checkpoint);
      if (!cp) problem(where, `ends at checkpoint ${seg.checkpoint}, which is missing or invalid`);
      else if (cp.seq !== last) problem(where, `ends at entry ${last}, but its checkpoint signs entry ${cp.seq}`);
      else if (cp.head !== head) {
        problem(where, `recomputed head differs from the head signed by checkpoint ${cp.seq}: entries in it were altered`);
      }
    }
    before = { seq: last, hash: head };
  }
  for (const p of proven.values()) if (p.content) out.contents++;
  return proven;
}

function checkReports(b: Bundle, proven: Map<number, Proven>, problem: Problem, out: Verification): void {
  const reportEntries = new Map<number, Record<string, unknown>>();
  const purges = new Map<number, Proven>();
  for (const p of proven.values()) {
    const id = Number(p.content?.report_id);
    if (p.kind === 'report' && p.content) reportEntries.set(id, p.content);
    if (p.kind === 'purge' && p.content) purges.set(id, p);
  }
  const listed = new Set<number>();
  for (const r of b.reports) {
    const at = `report ${r.report_id}`;
    listed.add(r.report_id);
    const entry = reportEntries.get(r.report_id);
    if (!entry) {
      problem(at, 'is in the bundle but no verified report entry proves it');
      continue;
    }
    if (entry.sha256 !== r.sha256) {
      problem(at, `its sha256 ${r.sha256} is not the one the chain recorded (${String(entry.sha256)})`);
      continue;
    }
    if (r.raw_gzip_base64 === null) {
      const purge = purges.get(r.report_id);
      if (purge) out.notes.push(`report ${r.report_id}: raw body purged at ${String(purge.content?.purged_at)} (entry ${purge.seq}); its sha256 ${r.sha256} is still proven`);
      else problem(at, 'raw body is missing and no purge entry records its removal');
      continue;
    }
    let raw: Buffer;
    try {
      raw = gunzipSync(Buffer.from(r.raw_gzip_base64, 'base64'), { maxOutputLength: MAX_RAW_BYTES });
    } catch {
      problem(at, 'raw body is not valid gzip+base64');
      continue;
    }
    if (sha256Hex(raw) !== r.sha256) problem(at, 'raw body does not match its sha256: the stored message was altered');
    else if (raw.length !== entry.size) problem(at, `raw body is ${raw.length} bytes, the chain recorded ${String(entry.size)}`);
  }
  for (const [id, entry] of reportEntries) {
    if (!listed.has(id)) problem(`report ${id}`, `is cited by a verified entry but its body and sha256 (${String(entry.sha256)}) are not in the bundle`);
  }
}

function checkScope(b: Bundle, proven: Map<number, Proven>, problem: Problem): void {
  const reports = new Set<number>();
  for (const p of proven.values()) if (p.kind === 'report') reports.add(Number(p.content?.report_id));
  for (const p of proven.values()) {
    if (p.kind !== 'event' || !p.content) continue;
    const at = `entry ${p.seq}`;
    // The chain id is signed (it is the tenant's id); the tenant's name in the bundle is not.
    if (p.content.tenant_id !== b.chain) problem(at, `is an event of tenant ${String(p.content.tenant_id)}, not of chain ${b.chain}`);
    if (b.scope.message && p.content.message_id !== b.scope.message) problem(at, `is an event of message ${String(p.content.message_id)}, outside the bundle's scope`);
    const cited = p.content.report_id;
    if (b.scope.message && typeof cited === 'number' && !reports.has(cited)) problem(at, `cites report ${cited}, which the bundle does not prove`);
  }
}

function describe(e: BundleEntry, content: JsonValue): string {
  const c = isObject(content) ? content : {};
  if (e.kind === 'event') return `event ${String(c.id ?? '?')} (${String(c.type ?? '?')}, message ${String(c.message_id ?? '?')})`;
  return `${e.kind} of report ${String(c.report_id ?? '?')}`;
}

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tokens of verified checkpoints that verify, by checkpoint seq. */
function checkTimestamps(b: Bundle, checkpoints: Map<number, BundleCheckpoint>, opts: VerifyOptions, problem: Problem, out: Verification): Map<number, { genTime: Date; tsa: string }> {
  const good = new Map<number, { genTime: Date; tsa: string }>();
  const tokens = b.timestamps ?? [];
  if (tokens.length > 0 && b.format === 'mailtrail-proof-bundle/1') problem('bundle', 'format 1 has no timestamps: the format line was altered');
  let trusted: X509Certificate[] | null = null;
  if (opts.tsaCaPem !== undefined) {
    try {
      trusted = certificatesOf(opts.tsaCaPem);
    } catch {
      trusted = [];
    }
    if (trusted.length === 0) problem('TSA CA', 'holds no PEM certificate');
  } else if (tokens.length > 0) {
    out.notes.push('timestamp tokens were checked against the certificate they carry only: pass the TSA\'s CA (--tsa-ca) to check who signed them');
  }
  for (const t of tokens) {
    const at = `timestamp of checkpoint ${t.seq}`;
    const cp = checkpoints.get(t.seq);
    if (t.chain !== b.chain || !cp) {
      problem(at, 'has no verified checkpoint in this bundle to cover');
      continue;
    }
    const token = Buffer.from(t.token_base64, 'base64');
    const digest = checkpointDigest({ ...cp, at: new Date(cp.at) });
    let carried: X509Certificate[] = [];
    if (trusted === null) {
      try {
        carried = parseCarried(token);
      } catch {
        carried = [];
      }
    }
    const verdict = verifyToken(token, digest, trusted ?? carried);
    if (!verdict.ok) {
      problem(at, verdict.problem);
      continue;
    }
    // Our checkpoint clock and the TSA's must agree roughly; a TSA time before the checkpoint's own time is impossible.
    if (verdict.genTime.getTime() + 5 * 60_000 < Date.parse(cp.at)) {
      problem(at, `the TSA dates it ${verdict.genTime.toISOString()}, before the checkpoint's own time ${cp.at}`);
      continue;
    }
    good.set(t.seq, { genTime: verdict.genTime, tsa: verdict.tsa });
    out.timestamps.push({ seq: t.seq, genTime: verdict.genTime.toISOString(), tsa: verdict.tsa });
  }
  return good;
}

function parseCarried(token: Buffer): X509Certificate[] {
  return parseToken(token).certificates;
}

/**
 * For each segment, the earliest time a third party vouches for: its own checkpoint's token or,
 * in an unbroken bundle (whole chain or time range), the token of a later checkpoint.
 */
function coverageOf(b: Bundle, checkpoints: Map<number, BundleCheckpoint>, stamps: Map<number, { genTime: Date; tsa: string }>): Verification['coverage'] {
  const segments = [...b.segments].filter((s) => s.checkpoint !== null && checkpoints.has(s.checkpoint)).sort((x, y) => x.entries[0].seq - y.entries[0].seq);
  const unbroken = !b.scope.message;
  return segments.map((s, i) => {
    const cp = checkpoints.get(s.checkpoint as number) as BundleCheckpoint;
    let stamp = stamps.get(cp.seq) ?? null;
    if (!stamp && unbroken) {
      const later = segments.slice(i + 1).find((x) => stamps.has(x.checkpoint as number));
      stamp = later ? (stamps.get(later.checkpoint as number) ?? null) : null;
    }
    return {
      from: s.entries[0].seq,
      to: s.entries[s.entries.length - 1].seq,
      checkpoint: cp.seq,
      at: cp.at,
      tsa: stamp ? { genTime: stamp.genTime.toISOString(), name: stamp.tsa } : null,
    };
  });
}

/** An opening must match the commitment in every verified sent event of its message. */
function checkOpenings(b: Bundle, proven: Map<number, Proven>, problem: Problem, out: Verification): void {
  const openings = b.openings ?? [];
  if (openings.length > 0 && b.format === 'mailtrail-proof-bundle/1') problem('bundle', 'format 1 has no openings: the format line was altered');
  for (const o of openings) {
    const at = `opening of message ${o.message_id}`;
    const committed = [...proven.values()].flatMap((p) => {
      const data = p.kind === 'event' && p.content?.message_id === o.message_id ? (p.content.data as Record<string, unknown> | undefined) : undefined;
      return isObject(data?.commitment) ? [{ seq: p.seq, c: data.commitment as Record<string, unknown> }] : [];
    });
    if (committed.length === 0) {
      problem(at, 'no verified entry of the bundle holds a commitment of that message');
      continue;
    }
    for (const { seq, c } of committed) for (const w of checkOpening(c, o)) problem(at, `entry ${seq}: ${w}`);
    out.notes.push(`message ${o.message_id}: ${Object.keys(o.values).sort().join(', ')} opened and match the commitments of entr${committed.length > 1 ? 'ies' : 'y'} ${committed.map((x) => x.seq).join(', ')}`);
  }
}
