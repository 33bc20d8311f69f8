import { describe, expect, it } from 'vitest';
import { isStopRequest } from '../../src/core/sms-stop.js';

describe('isStopRequest', () => {
  it.each(['STOP', 'stop', ' Stop ', 'STOPP', 'Arrêt', 'ARRET', 'arret svp', 'UNSUBSCRIBE', 'Désabonner', 'DESABONNER merci', 'stop.', '"STOP"', 'Stop!!'])(
    'stop: %j',
    (text) => expect(isStopRequest(text)).toBe(true),
  );
  it.each(['', 'please stop', 'stopped', 'STOPPING', 'arrête', 'unsubscribed', 'ok', 'non-stop', 'bus stop'])('not a stop: %j', (text) =>
    expect(isStopRequest(text)).toBe(false),
  );
});
