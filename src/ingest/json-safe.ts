/**
 * JSON text Postgres jsonb accepts: it refuses NUL characters and unpaired surrogates, which a
 * hostile or broken message can put into any header. A report that cannot be stored would be
 * answered 451 and retried for days, so they are dropped instead.
 */
export function jsonSafe(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? cleanString(v) : v));
}

const UNSAFE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function cleanString(v: string): string {
  return v.replace(UNSAFE, '');
}
