/**
 * Labels an open or click as human or machine. Machine activity is recorded and labelled, never
 * hidden; only `human: false` keeps it from moving the status (status.ts countsAsEngagement).
 *
 * Labels:
 * - `human`: a browser or mail client user agent, not too soon after delivery.
 * - `privacy-proxy`: Apple Mail Privacy Protection prefetches every image on delivery, whether or
 *   not the message is read: never human.
 * - `image-proxy`: Gmail/Yahoo fetch images through their proxy *when the recipient opens the
 *   message*: human, unless it comes within seconds of delivery (a prefetch).
 * - `scanner`: security gateways and link checkers: bot user agents, HEAD requests, no user agent,
 *   a click seconds after delivery, or every link of a message hit within seconds.
 * - `unknown`: nothing recognisable either way: counted as human unless too soon after delivery
 *   (dropping real opens is as wrong as counting machine ones).
 */
export type ActivityLabel = 'human' | 'privacy-proxy' | 'image-proxy' | 'scanner' | 'unknown';

export interface Hit {
  kind: 'open' | 'click';
  method: string;
  userAgent: string | null;
  ip: string | null;
  at: Date;
}

export interface HitContext {
  /**
   * When the message reached the recipient's side: a success DSN's time, else the relay's
   * acceptance (`sent`). Not the submission time: a message deferred for hours is fresh when it
   * finally arrives, and a scanner's hit seconds later must still look fast.
   */
  deliveredAt: Date | null;
  /** This click is part of a burst that hit every link of the message within seconds. */
  linkBurst: boolean;
}

export interface Activity {
  label: ActivityLabel;
  human: boolean;
  /** What led to the label, e.g. `ua:GoogleImageProxy`, `net:apple`, `since-delivery:1.2s`. */
  signals: string[];
}

interface UaRule {
  label: 'scanner' | 'image-proxy' | 'human';
  name: string;
  pattern: RegExp;
  /** A real user agent string this rule was written for (checked by a test). */
  example: string;
}

/** First match wins: scanners before proxies before plain browsers (gateways often add a browser UA). */
export const USER_AGENT_RULES: readonly UaRule[] = [
  { label: 'scanner', name: 'bot', pattern: /[a-z]bot\/|\bbot\b|slackbot|twitterbot|facebookexternalhit|linkedinbot|discordbot|crawler|spider|slurp|uripreview/i, example: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
  { label: 'scanner', name: 'http-library', pattern: /^(curl|wget|python-requests|python-urllib|go-http-client|java|okhttp|libwww-perl|axios|node-fetch|undici|apache-httpclient|ruby|php)\b/i, example: 'python-requests/2.31.0' },
  { label: 'scanner', name: 'security-gateway', pattern: /barracuda|mimecast|proofpoint|urldefense|symantec|messagelabs|trend ?micro|forcepoint|fortiguard|sophos|ironport|safelinks|cloudmark|zscaler/i, example: 'Mozilla/5.0 (compatible; Barracuda Sentinel (EE))' },
  { label: 'scanner', name: 'office-discovery', pattern: /Microsoft Office Existence Discovery|ms-office; MSOffice 16/i, example: 'Microsoft Office Existence Discovery' },
  { label: 'scanner', name: 'headless', pattern: /HeadlessChrome|PhantomJS|Puppeteer|Playwright/i, example: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36' },
  { label: 'image-proxy', name: 'GoogleImageProxy', pattern: /GoogleImageProxy|ggpht\.com/i, example: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' },
  { label: 'image-proxy', name: 'YahooMailProxy', pattern: /YahooMailProxy/i, example: 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html' },
  { label: 'human', name: 'mail-client', pattern: /Outlook|Thunderbird|Microsoft Office\/|Apple ?Mail|Airmail|eM Client/i, example: 'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)' },
  { label: 'human', name: 'browser', pattern: /^Mozilla\/5\.0 \(.+\).*(Gecko|AppleWebKit|Trident)/, example: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15' },
];

/**
 * Networks whose hits are machines or proxies. Apple's 17.0.0.0/8 (MPP fetches also leave from
 * CDN ranges, hence the user-agent rule); Google's image proxy ranges (google-proxy-66-249-8x-x).
 */
export const NETWORK_RULES: readonly { label: 'privacy-proxy' | 'image-proxy'; name: string; cidr: string }[] = [
  { label: 'privacy-proxy', name: 'apple', cidr: '17.0.0.0/8' },
  { label: 'image-proxy', name: 'google-image-proxy', cidr: '66.249.80.0/20' },
  { label: 'image-proxy', name: 'google-image-proxy', cidr: '66.102.0.0/20' },
];

/** Apple Mail Privacy Protection's proxy sends exactly this and nothing more. */
const MPP_USER_AGENT = 'Mozilla/5.0';

/** Sooner than this after delivery, nobody has read the message yet. */
const FAST_OPEN_MS = 2_000;
const FAST_CLICK_MS = 10_000;
/** Every link of a message clicked within this window: a link checker. */
export const LINK_BURST_MS = 5_000;

function ipv4ToInt(ip: string): number | null {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** Whether an IPv4 address (plain or IPv4-mapped IPv6) is inside `a.b.c.d/len`. */
export function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  if (a === null || b === null) return false;
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

/**
 * @example labelActivity({ kind: 'open', method: 'GET', userAgent: '… (via ggpht.com GoogleImageProxy)', ip: '66.249.84.1', at },
 *   { deliveredAt: thirtyMinutesBefore, linkBurst: false }) → { label: 'image-proxy', human: true, signals: [...] }
 */
export function labelActivity(hit: Hit, ctx: HitContext): Activity {
  const signals: string[] = [];
  const ua = (hit.userAgent ?? '').trim();
  const uaRule = ua ? USER_AGENT_RULES.find((r) => r.pattern.test(ua)) : undefined;
  const net = hit.ip ? NETWORK_RULES.find((n) => inCidr(hit.ip as string, n.cidr)) : undefined;
  if (uaRule) signals.push(`ua:${uaRule.name}`);
  if (net) signals.push(`net:${net.name}`);

  let fast = false;
  if (ctx.deliveredAt === null) {
    signals.push('before-delivery');
    fast = true;
  } else {
    const since = hit.at.getTime() - ctx.deliveredAt.getTime();
    signals.push(`since-delivery:${(since / 1000).toFixed(1)}s`);
    fast = since < (hit.kind === 'open' ? FAST_OPEN_MS : FAST_CLICK_MS);
    if (fast) signals.push('fast-after-delivery');
  }

  let label: ActivityLabel;
  if (hit.method === 'HEAD') {
    signals.push('head-request');
    label = 'scanner';
  } else if (!ua) {
    signals.push('no-user-agent');
    label = 'scanner';
  } else if (uaRule?.label === 'scanner') {
    label = 'scanner';
  } else if (hit.kind === 'click' && ctx.linkBurst) {
    signals.push(`all-links-within:${LINK_BURST_MS / 1000}s`);
    label = 'scanner';
  } else if (hit.kind === 'open' && (ua === MPP_USER_AGENT || net?.label === 'privacy-proxy')) {
    if (ua === MPP_USER_AGENT) signals.push('ua:bare-mozilla');
    label = 'privacy-proxy';
  } else if (uaRule?.label === 'image-proxy' || net?.label === 'image-proxy') {
    label = 'image-proxy';
  } else if (hit.kind === 'click' && fast) {
    // Gateways (Safe Links and the like) follow links with browser user agents on arrival.
    label = 'scanner';
  } else {
    label = uaRule?.label === 'human' ? 'human' : 'unknown';
  }
  const human = (label === 'human' || label === 'image-proxy' || label === 'unknown') && !fast;
  return { label, human, signals };
}

/**
 * Indexes of the clicks that belong to a burst covering every one of the message's `linkCount`
 * links within `LINK_BURST_MS` (needs at least 2 links: one link alone says nothing).
 */
export function linkBursts(clicks: readonly { url: string; at: Date }[], linkCount: number): Set<number> {
  const out = new Set<number>();
  if (linkCount < 2) return out;
  const order = clicks.map((c, i) => ({ ...c, i })).sort((a, b) => a.at.getTime() - b.at.getTime());
  let start = 0;
  const seen = new Map<string, number>();
  for (let end = 0; end < order.length; end++) {
    seen.set(order[end].url, (seen.get(order[end].url) ?? 0) + 1);
    while (order[end].at.getTime() - order[start].at.getTime() > LINK_BURST_MS) {
      const u = order[start].url;
      const n = (seen.get(u) ?? 1) - 1;
      if (n === 0) seen.delete(u);
      else seen.set(u, n);
      start++;
    }
    if (seen.size >= linkCount) for (let k = start; k <= end; k++) out.add(order[k].i);
  }
  return out;
}
