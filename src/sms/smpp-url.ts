/** One SMSC connection, from one entry of MAILTRAIL_SMPP_URL. */
export interface SmscSpec {
  /** `system_id@host:port`: log field and metrics label; never the password. */
  id: string;
  /** `host:port`: the SMSC's message ids are unique per SMSC, so receipts are matched on it. */
  smsc: string;
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
  systemType: string;
  /** One transceiver bind, or a transmitter and a receiver. */
  bind: 'transceiver' | 'split';
  /** Unacknowledged submit_sm at most (SMPP window). */
  window: number;
  /** submit_sm per second at most on this connection; 0 = no limit. */
  rate: number;
  /** Long texts as one submit_sm with message_payload instead of concatenated parts. */
  payload: boolean;
  /** No receipt after MAILTRAIL_SMS_RECEIPT_WINDOW: `delivered`, or stay `sent` with a flag. */
  noReceipt: 'delivered' | 'sent';
  /** How long a submit_sm waits for its response before it counts as failed. */
  timeoutMs: number;
  /** enquire_link period. */
  enquireMs: number;
}

export type ParsedSmsc = { ok: true; smsc: SmscSpec } | { ok: false; error: string };

const PARAMS = new Set(['window', 'rate', 'bind', 'payload', 'no_receipt', 'timeout', 'enquire', 'system_type']);

function int(v: string | null, dflt: number, min: number, max: number): number | null {
  if (v === null) return dflt;
  if (!/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n >= min && n <= max ? n : null;
}

/**
 * Reads one SMSC URL. Errors never repeat the password.
 *
 * @example parseSmscUrl('smpp://mailtrail:secret@127.0.0.1:2775?window=10&rate=50')
 */
export function parseSmscUrl(text: string): ParsedSmsc {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, error: 'is not a URL: expected smpp://system_id:password@host[:port]?window=10&rate=0' };
  }
  if (url.protocol !== 'smpp:' && url.protocol !== 'ssmpp:') return { ok: false, error: `${url.protocol}// is not an SMPP URL: use smpp:// or ssmpp:// (TLS)` };
  const systemId = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (!systemId || !url.hostname) return { ok: false, error: 'needs system_id and host: smpp://system_id:password@host[:port]' };
  if (systemId.length > 15 || password.length > 8) {
    return { ok: false, error: 'system_id is at most 15 and password at most 8 characters (SMPP 3.4 5.2.1)' };
  }
  const tls = url.protocol === 'ssmpp:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : tls ? 3550 : 2775;
  const smsc = `${host}:${port}`;
  const id = `${systemId}@${smsc}`;
  const p = url.searchParams;
  for (const key of p.keys()) if (!PARAMS.has(key)) return { ok: false, error: `${id}: unknown parameter "${key}" (known: ${[...PARAMS].join(', ')})` };
  const window = int(p.get('window'), 10, 1, 1000);
  if (window === null) return { ok: false, error: `${id}: window must be 1-1000` };
  const rate = int(p.get('rate'), 0, 0, 100_000);
  if (rate === null) return { ok: false, error: `${id}: rate must be 0 (no limit) to 100000 submits per second` };
  const timeoutMs = int(p.get('timeout'), 10_000, 100, 600_000);
  if (timeoutMs === null) return { ok: false, error: `${id}: timeout must be 100-600000 ms` };
  const enquireMs = int(p.get('enquire'), 30_000, 1_000, 3_600_000);
  if (enquireMs === null) return { ok: false, error: `${id}: enquire must be 1000-3600000 ms` };
  const bind = p.get('bind') ?? 'transceiver';
  if (bind !== 'transceiver' && bind !== 'split') return { ok: false, error: `${id}: bind must be transceiver or split` };
  const payload = p.get('payload') ?? 'false';
  if (payload !== 'true' && payload !== 'false') return { ok: false, error: `${id}: payload must be true or false` };
  const noReceipt = p.get('no_receipt') ?? 'sent';
  if (noReceipt !== 'sent' && noReceipt !== 'delivered') return { ok: false, error: `${id}: no_receipt must be sent or delivered` };
  const systemType = p.get('system_type') ?? '';
  if (systemType.length > 12) return { ok: false, error: `${id}: system_type is at most 12 characters` };
  return {
    ok: true,
    smsc: { id, smsc, host, port, tls, systemId, password, systemType, bind, window, rate, payload: payload === 'true', noReceipt, timeoutMs, enquireMs },
  };
}

/** A comma list of SMSC URLs; empty or unset = no SMS sending. */
export function parseSmscUrls(text: string): { ok: true; smscs: SmscSpec[] } | { ok: false; error: string } {
  const smscs: SmscSpec[] = [];
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, part] of parts.entries()) {
    const r = parseSmscUrl(part);
    if (!r.ok) return { ok: false, error: `entry ${i + 1}: ${r.error}` };
    smscs.push(r.smsc);
  }
  return { ok: true, smscs };
}
