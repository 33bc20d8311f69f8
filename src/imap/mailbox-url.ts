/** What the poller does with a message once its raw bytes are committed. */
export type AfterStore = { action: 'move'; folder: string } | { action: 'flag'; flag: string } | { action: 'delete' };

/** One polled mailbox, from one entry of MAILTRAIL_IMAP_URLS. */
export interface MailboxSpec {
  /** `user@host:port/folder`: state key, metrics label and log field. Never holds the password. */
  id: string;
  host: string;
  port: number;
  /** `tls`: implicit TLS (imaps://); `starttls`: required upgrade; `off`: cleartext (loopback only). */
  tls: 'tls' | 'starttls' | 'off';
  /** Accept a certificate that does not verify (self-signed server). */
  insecure: boolean;
  user: string;
  password: string;
  folder: string;
  after: AfterStore;
  /** Where unparseable, oversized or repeatedly failing messages go, so they never loop. */
  errorFolder: string;
}

export type ParsedMailbox = { ok: true; mailbox: MailboxSpec } | { ok: false; error: string };

const PARAMS = new Set(['after', 'error', 'tls', 'insecure']);

/**
 * Reads one mailbox URL. Errors never repeat the password.
 *
 * @example parseMailboxUrl('imaps://bounces%40example.com:pw@imap.example.com/INBOX?after=move:Done')
 */
export function parseMailboxUrl(text: string): ParsedMailbox {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: 'is not a URL: expected imap(s)://user:password@host[:port]/Folder?after=...' };
  }
  if (url.protocol !== 'imap:' && url.protocol !== 'imaps:') {
    return { ok: false, error: `${url.protocol}// is not an IMAP URL: use imap:// or imaps://` };
  }
  const implicitTls = url.protocol === 'imaps:';
  const user = decode(url.username);
  const password = decode(url.password);
  if (!user || !password || !url.hostname) {
    return { ok: false, error: 'needs user, password and host: imap(s)://user:password@host/Folder (percent-encode @ and : in them)' };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : implicitTls ? 993 : 143;
  const folder = decode(url.pathname.replace(/^\//, '')) || 'INBOX';
  const where = `${user}@${host}:${port}/${folder}`;

  for (const key of url.searchParams.keys()) {
    if (!PARAMS.has(key)) return { ok: false, error: `${where}: unknown parameter "${key}" (known: ${[...PARAMS].join(', ')})` };
  }
  const after = parseAfter(url.searchParams.get('after') ?? 'move');
  if (typeof after === 'string') return { ok: false, error: `${where}: ${after}` };
  const errorFolder = url.searchParams.get('error') || 'Errors';

  const tlsParam = url.searchParams.get('tls') ?? (implicitTls ? 'on' : 'starttls');
  let tls: MailboxSpec['tls'];
  if (implicitTls) {
    if (tlsParam !== 'on') return { ok: false, error: `${where}: imaps:// always uses TLS; use imap://...?tls=starttls|off instead` };
    tls = 'tls';
  } else if (tlsParam === 'starttls' || tlsParam === 'off') {
    tls = tlsParam;
  } else {
    return { ok: false, error: `${where}: tls must be starttls or off for imap:// (use imaps:// for implicit TLS)` };
  }
  const insecureParam = url.searchParams.get('insecure') ?? 'false';
  if (insecureParam !== 'true' && insecureParam !== 'false') return { ok: false, error: `${where}: insecure must be true or false` };

  // Moving a message into the folder it is read from, or failing into it, would loop forever.
  if (after.action === 'move' && after.folder === folder) return { ok: false, error: `${where}: after=move must name another folder than ${folder}` };
  if (errorFolder === folder) return { ok: false, error: `${where}: error folder must differ from ${folder}` };

  return {
    ok: true,
    mailbox: { id: where, host, port, tls, insecure: insecureParam === 'true', user, password, folder, after, errorFolder },
  };
}

/** A comma list of mailbox URLs (commas inside a URL must be percent-encoded). */
export function parseMailboxUrls(text: string): { ok: true; mailboxes: MailboxSpec[] } | { ok: false; error: string } {
  const mailboxes: MailboxSpec[] = [];
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, entry] of entries.entries()) {
    const r = parseMailboxUrl(entry);
    if (!r.ok) return { ok: false, error: `entry ${i + 1} ${r.error}` };
    if (mailboxes.some((m) => m.id === r.mailbox.id)) return { ok: false, error: `entry ${i + 1}: ${r.mailbox.id} is listed twice` };
    mailboxes.push(r.mailbox);
  }
  return { ok: true, mailboxes };
}

function parseAfter(v: string): AfterStore | string {
  const [action, arg] = splitOnce(v, ':');
  if (action === 'move') return { action, folder: arg || 'Processed' };
  if (action === 'flag') return { action, flag: arg || '\\Seen' };
  if (action === 'delete' && !arg) return { action };
  return 'after must be move[:Folder], flag[:Flag] or delete';
}

function splitOnce(v: string, sep: string): [string, string] {
  const i = v.indexOf(sep);
  return i < 0 ? [v, ''] : [v.slice(0, i), v.slice(i + 1)];
}

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
