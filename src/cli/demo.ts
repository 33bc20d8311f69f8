import { parseArgs } from 'node:util';
import { startDemo } from '../demo/run.js';

export interface DemoIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** `mailtrail demo`: the guided first run on loopback, until Ctrl-C. */
export async function runDemo(args: string[], io: DemoIo, stopped: Promise<unknown>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, 'http-port': { type: 'string' }, 'smtp-port': { type: 'string' }, demo: { type: 'boolean' } },
  });
  const demo = await startDemo({
    dataDir: values['data-dir'] ?? './demo-data',
    httpPort: Number(values['http-port'] ?? 8025),
    smtpPort: Number(values['smtp-port'] ?? 2525),
  });
  io.stdout.write(
    [
      '',
      'mailtrail DEMO: simulated relay, recipient servers and people on 127.0.0.1; nothing leaves this machine.',
      `  data dir:   ${demo.app.config.MAILTRAIL_DATA_DIR} (delete it to start over)`,
      `  dashboard:  ${demo.dashboardUrl}`,
      demo.login ? `  login:      ${demo.login.email} / ${demo.login.password}  (shown once)` : '  login:      the demo login printed at the first run of this data dir',
      `  API key:    ${demo.apiKey}  (tenant "demo")`,
      `  try:        curl -s -H "authorization: Bearer ${demo.apiKey}" ${demo.apiUrl}/v1/messages`,
      '',
      `${demo.messages.length} [demo] messages submitted; watch them move within a minute:`,
      ...demo.messages.map((m) => `  ${m.recipient.padEnd(26)} -> ${m.expect}`),
      '',
      'Ctrl-C stops the demo.',
      '',
    ].join('\n'),
  );
  await stopped;
  await demo.stop().catch((err: Error) => io.stderr.write(`${err.message}\n`));
  return 0;
}
