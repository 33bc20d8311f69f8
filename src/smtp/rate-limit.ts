/**
 * New connections per client IP per minute, as a token bucket: a burst up to the limit, then
 * the limit's rate. Memory stays bounded: full buckets carry no information and are dropped.
 */
export class ConnectionRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `ip`; false when its bucket is empty. A limit of 0 means no limit. */
  take(ip: string): boolean {
    if (this.perMinute <= 0) return true;
    const t = this.now();
    this.sweep(t);
    const b = this.buckets.get(ip) ?? { tokens: this.perMinute, at: t };
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) * this.perMinute) / 60_000);
    b.at = t;
    this.buckets.set(ip, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get tracked(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [ip, b] of this.buckets) if (b.tokens + ((t - b.at) * this.perMinute) / 60_000 >= this.perMinute) this.buckets.delete(ip);
  }
}
