import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { checkAddress, checkHost, type Cidr } from '../core/ip-ranges.js';

/** Raised when a webhook URL's host is, or resolves to, an address outbound requests may not reach. */
export class AddressNotAllowedError extends Error {
  readonly code = 'MT_ERR_WEBHOOK_ADDRESS';
  constructor(readonly reason: string) {
    super(`address not allowed: ${reason}`);
  }
}

/**
 * A DNS lookup that checks every address a name resolves to and fails when any is refused. It
 * runs inside the socket's connect, so the addresses checked are the ones connected to: a name
 * that resolves to a public address when registered and to 127.0.0.1 later (DNS rebinding) fails.
 */
function checkedLookup(allow: readonly Cidr[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const v = checkAddress(a.address, allow);
        if (!v.ok) return callback(new AddressNotAllowedError(v.reason), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

export interface PostResult {
  status: number;
}

/**
 * POSTs `body` to `url` (http or https) without following redirects, connecting only to allowed
 * addresses. An IP-literal host is checked here (sockets skip the lookup for literals); a name is
 * checked in the lookup. The response body is discarded.
 */
export function safePost(
  url: URL,
  body: string,
  headers: Record<string, string>,
  opts: { allow: readonly Cidr[]; signal: AbortSignal },
): Promise<PostResult> {
  const host = checkHost(url.hostname, opts.allow);
  if (!host.ok) return Promise.reject(new AddressNotAllowedError(host.reason));
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const req = mod.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: checkedLookup(opts.allow),
      signal: opts.signal,
      // One connection per delivery: a pooled socket would skip the connect-time check.
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.resume();
    });
    req.end(body);
  });
}

/**
 * What a failed delivery tells the tenant: the class of failure only. Raw errno codes, addresses
 * and resolver text would let a tenant map the operator's network through its endpoint URL.
 */
export function failureClass(err: unknown): string {
  if (err instanceof AddressNotAllowedError) return 'address not allowed';
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NODATA') return 'host not found';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'connection reset';
  if (/^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code)) return 'TLS error';
  return 'connection failed';
}

/** `HTTP 5xx` for a 503: the class of an unsuccessful answer. */
export function statusClass(status: number): string {
  return `HTTP ${Math.floor(status / 100)}xx`;
}

const REGISTER_LOOKUP_MS = 3_000;

/**
 * Why a webhook URL is refused at registration (null: accepted). Its host is checked as written
 * and, when it is a name, as resolved now; a name that does not resolve yet is accepted, since
 * every delivery checks the addresses again when it connects.
 */
export async function refuseWebhookUrl(url: string, allow: readonly Cidr[]): Promise<string | null> {
  const { hostname } = new URL(url);
  const host = checkHost(hostname, allow);
  if (!host.ok) return host.reason;
  if (isIP(hostname.replace(/^\[|\]$/g, ''))) return null;
  const addresses = await new Promise<LookupAddress[]>((resolve) => {
    const timer = setTimeout(() => resolve([]), REGISTER_LOOKUP_MS);
    dnsLookup(hostname, { all: true }, (err, a) => {
      clearTimeout(timer);
      resolve(err ? [] : a);
    });
  });
  for (const a of addresses) {
    const v = checkAddress(a.address, allow);
    if (!v.ok) return `resolves to a ${v.reason}`;
  }
  return null;
}
