import pino, { type Logger } from 'pino';

export type Log = Logger;

/** JSON logs on stdout (pino). Every line that reports a failure carries a `code` (MT_ERR_*). */
export function createLog(level: string, destination?: pino.DestinationStream): Log {
  return pino({ level, base: { service: 'mailtrail' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
