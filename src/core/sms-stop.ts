/** Opt-out words of an inbound SMS, compared without case and accents. */
const STOP_WORDS: ReadonlySet<string> = new Set(['STOP', 'STOPP', 'ARRET', 'UNSUBSCRIBE', 'DESABONNER']);

/**
 * True when an inbound SMS asks to stop: a stop word alone or as the first word, case and accents
 * ignored, punctuation around it allowed.
 *
 * @example isStopRequest('Arrêt svp') === true; isStopRequest('please stop') === false
 */
export function isStopRequest(text: string): boolean {
  const plain = text.slice(0, 200).normalize('NFD').replace(/\p{M}/gu, '').toUpperCase();
  const first = plain.trim().split(/[^\p{L}\p{N}]+/u).find((w) => w !== '');
  return first !== undefined && STOP_WORDS.has(first);
}
