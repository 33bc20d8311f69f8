/**
 * Limits on how long and how slowly one SMTP connection may hold a slot (slowloris): connections
 * per client IP, a whole-session deadline, and a least number of command bytes per window
 * outside DATA (DATA has its own deadline). Time comes from the caller, so the rules are plain.
 */
export interface GuardLimits {
  maxPerIp: number;
  sessionMs: number;
  minCommandBytes: number;
  windowMs: number;
}

export type GuardVerdict = 'session_timeout' | 'slow_commands';

interface Tracked {
  ip: string;
  start: number;
  windowStart: number;
  windowBytes: number;
  inData: boolean;
}

export class SessionGuard {
  private readonly perIp = new Map<string, number>();
  private readonly sessions = new Map<string, Tracked>();

  constructor(private readonly limits: GuardLimits) {}

  /** Counts a new connection from `ip`; false (not counted) when that IP already holds its share. */
  admit(id: string, ip: string, now: number): boolean {
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.limits.maxPerIp) return false;
    this.perIp.set(ip, n + 1);
    this.sessions.set(id, { ip, start: now, windowStart: now, windowBytes: 0, inData: false });
    return true;
  }

  release(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    const n = (this.perIp.get(s.ip) ?? 1) - 1;
    if (n > 0) this.perIp.set(s.ip, n);
    else this.perIp.delete(s.ip);
  }

  /** A complete command line of `bytes` (with its CRLF) arrived. */
  command(id: string, bytes: number): void {
    const s = this.sessions.get(id);
    if (s) s.windowBytes += bytes;
  }

  dataStart(id: string): void {
    const s = this.sessions.get(id);
    if (s) s.inData = true;
  }

  /** DATA answered: the command phase starts a fresh window. */
  dataEnd(id: string, now: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.inData = false;
    s.windowStart = now;
    s.windowBytes = 0;
  }

  /** The sessions to cut now, and why. A session in DATA is left to the DATA deadline. */
  *due(now: number): Generator<{ id: string; ip: string; verdict: GuardVerdict }> {
    const { sessionMs, minCommandBytes, windowMs } = this.limits;
    for (const [id, s] of this.sessions) {
      if (s.inData) continue;
      if (now - s.start >= sessionMs) {
        yield { id, ip: s.ip, verdict: 'session_timeout' };
      } else if (now - s.windowStart >= windowMs) {
        if (s.windowBytes < minCommandBytes) yield { id, ip: s.ip, verdict: 'slow_commands' };
        s.windowStart = now;
        s.windowBytes = 0;
      }
    }
  }

  get open(): number {
    return this.sessions.size;
  }
}
