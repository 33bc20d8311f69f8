import { parentPort } from 'node:worker_threads';
import { parse } from '../parsers/index.js';

/**
 * A parse-pool thread (src/ingest/parse-pool.ts): parses one message at a time, so a message
 * that takes long holds up only this thread, which the pool terminates when its budget is up.
 */
export interface ParseRequest {
  id: number;
  raw: Uint8Array;
}

export interface ParseResponse {
  id: number;
  report: ReturnType<typeof parse>;
}

const port = parentPort;
if (port) {
  port.on('message', (req: ParseRequest) => {
    port.postMessage({ id: req.id, report: parse(req.raw) } satisfies ParseResponse);
  });
  // Tells the pool the thread loaded: a thread that dies before this is a setup fault, not a
  // message's.
  port.postMessage('ready');
}
