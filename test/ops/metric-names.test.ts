// Dashboards and alerts use exactly the names the processes expose (never invented parallel ones): the
// API's catalogue (src/telemetry/metrics.ts, prom-client defaults included), the worker's
// (src/jobs/metrics.ts), the SLO recording rules, and Prometheus's own `up`.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry, startRuntimeMetrics } from '../../src/telemetry/metrics.ts';
import { dashboardTargets, interpolate, path, rules } from './support.ts';

// The worker's catalogue (issue 13): read from its module once it is on this branch.
const WORKER_METRICS = [
  'stowage_jobs_queued',
  'stowage_jobs_active',
  'stowage_jobs_dead_lettered',
  'stowage_jobs_completed_total',
  'stowage_jobs_failed_total',
  'stowage_job_duration_seconds',
  'stowage_export_bytes_total',
];

async function workerMetricNames(): Promise<{ name: string; type: string }[]> {
  const module = 'src/jobs/metrics.ts';
  if (!existsSync(path(module)))
    return WORKER_METRICS.map((name) => ({ name, type: name.endsWith('_seconds') ? 'histogram' : 'gauge' }));
  const { createWorkerMetrics } = await import(path(module));
  const { registry: worker } = createWorkerMetrics({ getQueues: async () => [] });
  return (await worker.getMetricsAsJSON()).map((m: { name: string; type: string }) => ({
    name: m.name,
    type: m.type,
  }));
}

/** Series names a metric family exposes in the text format. */
const seriesNames = ({ name, type }: { name: string; type: string }) =>
  type === 'histogram'
    ? [`${name}_bucket`, `${name}_count`, `${name}_sum`]
    : type === 'summary'
      ? [name, `${name}_count`, `${name}_sum`]
      : [name];

const FUNCTIONS = new Set(
  'sum min max avg count rate irate increase delta deriv histogram_quantile vector absent absent_over_time and or unless by without on ignoring group_left group_right offset bool le label_replace clamp_min clamp_max time'.split(
    ' ',
  ),
);

/** The metric names a PromQL expression selects: identifiers outside label matchers, groupings and strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const names = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !FUNCTIONS.has(n) && !/^\d/.test(n)))];
}

describe('metric names in dashboards and rules', async () => {
  startRuntimeMetrics(); // the Node runtime metrics, as a process registers them when its listener starts
  const api = (await registry.getMetricsAsJSON()).map((m) => ({ name: m.name, type: String(m.type) }));
  const worker = await workerMetricNames();
  const recorded = rules().flatMap((r) => (r.record ? [r.record] : []));
  // Tempo's metrics generator (span-metrics processor) writes these into Prometheus.
  const tempo = [
    'traces_spanmetrics_latency_bucket',
    'traces_spanmetrics_latency_count',
    'traces_spanmetrics_calls_total',
  ];
  const known = new Set([
    ...api.flatMap(seriesNames),
    ...worker.flatMap(seriesNames),
    ...recorded,
    ...tempo,
    'up',
  ]);
  const used = [
    ...rules().map((r) => ({ where: r.alert ?? r.record!, expr: r.expr })),
    ...dashboardTargets()
      .filter((t) => t.datasource.type === 'prometheus')
      .map((t) => ({ where: `${t.dashboard} / ${t.panel}`, expr: interpolate(t.query) })),
  ];

  it('the extraction finds names (and would report an invented one)', () => {
    expect(
      metricNames('sum by (le) (rate(http_server_request_duration_seconds_bucket{le="0.2"}[5m]))'),
    ).toEqual(['http_server_request_duration_seconds_bucket']);
    expect(known.has('stowage_http_requests_total')).toBe(false);
  });

  it.each(used.map((u) => [u.where, u.expr] as const))('%s uses only exposed names', (_, expr) => {
    expect(metricNames(expr).filter((n) => !known.has(n))).toEqual([]);
  });
});
