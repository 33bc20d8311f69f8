import { Counter, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  reports: Counter<'kind' | 'outcome'>;
  duration: Histogram<'outcome'>;
}

/** Ingest's metrics on the app registry; created once per registry (several listeners may share it). */
export function ingestMetrics(registry: Registry): IngestMetrics {
  return {
    reports: once(registry, 'mailtrail_ingest_reports_total', () =>
      new Counter({
        name: 'mailtrail_ingest_reports_total',
        help: 'Inbound reports by parsed kind and step outcome: stored, duplicate or failed when stored; correlated or uncorrelated when applied (the SMTP path counts each report at both steps).',
        labelNames: ['kind', 'outcome'] as const,
        registers: [registry],
      }),
    ),
    duration: once(registry, 'mailtrail_ingest_duration_seconds', () =>
      new Histogram({
        name: 'mailtrail_ingest_duration_seconds',
        help: 'Time to hash, parse, store and apply one report, until its transaction committed.',
        labelNames: ['outcome'] as const,
        buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
    ),
  };
}

export function once<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
