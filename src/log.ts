import { format } from 'node:util';
import pino, { type Logger } from 'pino';

export type Log = Logger;

/** JSON logs on stdout (pino). Every line that reports a failure carries a `code` (MT_ERR_*). */
export function createLog(level: string, destination?: pino.DestinationStream): Log {
  return pino({ level, base: { service: 'mailtrail' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A bunyan-style logger (`log.info(meta, 'format %s', arg)`), as smtp-server calls it. */
export type PrintfLogger = Record<Level, (meta: unknown, ...args: unknown[]) => void> & { child(): PrintfLogger };

/**
 * Adapts pino to libraries that log printf-style: the arguments are formatted (util.format), so a
 * line reads `a1b2 203.0.113.7 read ECONNRESET`, not `%s %s %s`. `levels` moves a library's level
 * to ours (a peer's broken connection is a warning here, not an error); `fields` picks what of the
 * library's meta object goes into the line (at our level); `tap` sees every call first (to watch for events).
 */
export function printfLogger(
  log: Log,
  opts: {
    levels?: Partial<Record<Level, Level | 'silent'>>;
    fields?: (meta: Record<string, unknown>, level: Level) => Record<string, unknown>;
    tap?: (level: Level, meta: unknown, args: unknown[]) => void;
  } = {},
): PrintfLogger {
  const at = (level: Level) => (meta: unknown, ...args: unknown[]) => {
    opts.tap?.(level, meta, args);
    const to = opts.levels?.[level] ?? level;
    if (to === 'silent' || !log.isLevelEnabled(to)) return;
    const m = meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>) : {};
    log[to](opts.fields ? opts.fields(m, to) : m, format(...args));
  };
  const logger: PrintfLogger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => logger,
  };
  return logger;
}
