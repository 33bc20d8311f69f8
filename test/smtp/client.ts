import { connect as netConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A bare SMTP client over a real socket, so tests see every reply code exactly as a sending MTA
 * would (nodemailer hides them behind its own retries and errors).
 */
export class SmtpClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  static async connect(port: number, opts: { proxyHeader?: string } = {}): Promise<SmtpClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (opts.proxyHeader) socket.write(opts.proxyHeader);
    return new SmtpClient(socket);
  }

  private attach(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next complete (possibly multi-line) reply, e.g. "250 2.0.0 Ok". */
  async reply(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[0].trimEnd();
      }
      if (this.closed) return `(closed)${this.buffer}`;
      if (Date.now() > deadline) throw new Error(`no SMTP reply within ${timeoutMs} ms (have ${JSON.stringify(this.buffer)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer) {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  async startTls(): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (!r.startsWith('220')) throw new Error(`STARTTLS refused: ${r}`);
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** MAIL, RCPT..., DATA, body: every reply in order. */
  async send(from: string, to: string[], body: string | Buffer, mailParams = ''): Promise<string[]> {
    const replies = [await this.cmd(`MAIL FROM:<${from}>${mailParams}`)];
    for (const r of to) replies.push(await this.cmd(`RCPT TO:<${r}>`));
    if (!replies.slice(1).some((r) => r.startsWith('250'))) return replies;
    replies.push(await this.cmd('DATA'));
    if (!replies.at(-1)!.startsWith('354')) return replies;
    const text = Buffer.isBuffer(body) ? body.toString('latin1') : body;
    const stuffed = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    replies.push(await this.reply());
    return replies;
  }

  close() {
    this.socket.destroy();
  }
}

/** A session up to EHLO: greeting and EHLO checked. */
export async function session(port: number, opts: { proxyHeader?: string } = {}): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port, opts);
  const greeting = await c.reply();
  if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
  const ehlo = await c.cmd('EHLO client.test');
  if (!ehlo.startsWith('250')) throw new Error(`EHLO: ${ehlo}`);
  return c;
}

/** A free loopback port in this suite's range (26000-26999). */
export async function freePort(from = 26000, to = 26999): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (to - from));
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port in range');
}
