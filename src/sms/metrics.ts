import { Counter, type Registry } from 'prom-client';

export interface SmsMetrics {
  /** Parts sent again after a submit_sm went unanswered: each one may have reached the phone twice. */
  unconfirmedResubmits: Counter<'smsc'>;
}

const cache = new WeakMap<Registry, SmsMetrics>();

/** The SMS worker's metrics on the app registry, created once per registry (workers may restart). */
export function smsMetrics(registry: Registry): SmsMetrics {
  const known = cache.get(registry);
  if (known) return known;
  const m: SmsMetrics = {
    unconfirmedResubmits: new Counter({
      name: 'mailtrail_sms_unconfirmed_resubmits_total',
      help: 'SMS parts submitted again after a submit_sm written to the SMSC got no submit_sm_resp (connection lost or timed out): possible duplicates',
      labelNames: ['smsc'],
      registers: [registry],
    }),
  };
  cache.set(registry, m);
  return m;
}
