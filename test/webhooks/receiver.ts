import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
  at: number;
}

/** A real HTTP webhook receiver on loopback whose answer the test decides per request. */
export class Receiver {
  readonly requests: Received[] = [];
  answer: (r: { headers: IncomingHttpHeaders; body: string }) => number = () => 200;
  private server?: Server;
  /** Once its URL has been handed out, a receiver keeps its port. */
  private bound = false;

  /** `port` is a preference in this suite's range (28100-28499); a busy one moves to the next. */
  constructor(public port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = this.answer({ headers: req.headers, body });
        this.requests.push({ headers: req.headers, body, status, at: Date.now() });
        res.writeHead(status).end();
      });
    });
    for (let tries = 0; ; tries++) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.server!.once('error', reject);
          this.server!.listen(this.port, '127.0.0.1', () => resolve());
        });
        this.bound = true;
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE' || this.bound || tries > 50) throw err;
        this.port = 28100 + ((this.port - 28100 + 7) % 400);
      }
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Bodies answered 2xx, parsed. */
  delivered<T = { data: { event_id: string; message_seq: number; message: { id: string } } }>(): T[] {
    return this.requests.filter((r) => r.status < 300).map((r) => JSON.parse(r.body) as T);
  }
}

/** Polls until the condition holds (generous: the box is shared). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
