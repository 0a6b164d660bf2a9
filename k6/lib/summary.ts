// handleSummary's output: the JSON verdict and a one-screen table (endpoint, p50/p95/p99, requests,
// errors, pass/fail). Reads k6's summary data in both shapes it comes in: the default object
// (`metrics` keyed by name, with each threshold's `ok`) and the machine-readable one
// (`results.metrics` as a list, no per-threshold verdicts), judging the latter against sla.ts itself.
import { DRIFT_MAX_RATIO, LATENCY_MS } from '../sla.ts';
import { METRIC } from './thresholds.ts';

type Values = Record<string, number | undefined>;
type MetricData = { values: Values; thresholds?: Record<string, { ok: boolean }> };
type Metrics = Record<string, MetricData>;

/** Normalises both summary shapes to a name → metric map. */
export function metricsOf(data: unknown): Metrics {
  const root = (data ?? {}) as {
    metrics?: Metrics;
    results?: { metrics?: ({ name: string } & MetricData)[] };
  };
  if (root.metrics && !Array.isArray(root.metrics)) return root.metrics;
  const list = root.results?.metrics ?? [];
  return Object.fromEntries(list.map((metric) => [metric.name, metric]));
}

/** `http_req_duration{scenario:load,endpoint:GET /v1/me}` → its tags. */
export function tagsOf(name: string): Record<string, string> {
  const open = name.indexOf('{');
  if (open < 0 || !name.endsWith('}')) return {};
  return Object.fromEntries(
    name
      .slice(open + 1, -1)
      .split(',')
      .map((pair) => {
        const at = pair.indexOf(':');
        return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      }),
  );
}

export type Row = {
  scenario: string;
  endpoint: string;
  p50?: number;
  p95?: number;
  p99?: number;
  requests?: number;
  errors: number;
  /** The latency SLA applies (else the row is informational: stress, the spike itself). */
  sla: boolean;
  pass: boolean;
};

const verdict = (metric: MetricData | undefined, fallback: () => boolean): boolean => {
  const results = Object.values(metric?.thresholds ?? {});
  return results.length > 0 ? results.every((t) => t.ok) : fallback();
};

const p = (values: Values | undefined, key: 'p(50)' | 'p(95)' | 'p(99)') =>
  values?.[key] ?? (key === 'p(50)' ? values?.med : undefined);

/** `slaScenarios`: where latency is judged; without it, wherever k6 has a percentile threshold. */
export function endpointRows(data: unknown, slaScenarios?: readonly string[]): Row[] {
  const metrics = metricsOf(data);
  const rows: Row[] = [];
  for (const [name, metric] of Object.entries(metrics)) {
    if (!name.startsWith('http_req_duration{')) continue;
    const tags = tagsOf(name);
    if (!tags.endpoint || !tags.scenario) continue;
    const suffix = `{scenario:${tags.scenario},endpoint:${tags.endpoint}}`;
    const errors = metrics[`${METRIC.unexpected}${suffix}`];
    const calls = metrics[`http_reqs${suffix}`];
    const [p50, p95, p99] = [p(metric.values, 'p(50)'), p(metric.values, 'p(95)'), p(metric.values, 'p(99)')];
    const errorCount = errors?.values.count ?? 0;
    const sla = slaScenarios
      ? slaScenarios.includes(tags.scenario)
      : Object.keys(metric.thresholds ?? {}).some((expression) => expression.startsWith('p('));
    const latencyOk =
      !sla ||
      verdict(
        metric,
        () => (p50 ?? 0) < LATENCY_MS.p50 && (p95 ?? 0) < LATENCY_MS.p95 && (p99 ?? 0) < LATENCY_MS.p99,
      );
    rows.push({
      scenario: tags.scenario,
      endpoint: tags.endpoint,
      p50,
      p95,
      p99,
      requests: calls?.values.count ?? metric.values.count,
      errors: errorCount,
      sla,
      pass: latencyOk && verdict(errors, () => errorCount === 0) && verdict(calls, () => true),
    });
  }
  return rows.sort((a, b) => a.scenario.localeCompare(b.scenario) || a.endpoint.localeCompare(b.endpoint));
}

export type Totals = {
  requests: number;
  failedRate: number;
  checksRate: number;
  transportErrors: number;
  unexpected: number;
  overloaded: number;
  rateLimited: number;
  driftMedian?: number;
};

export function totals(data: unknown): Totals {
  const m = metricsOf(data);
  const count = (name: string) => m[name]?.values.count ?? 0;
  return {
    requests: count('http_reqs'),
    failedRate: m.http_req_failed?.values.rate ?? 0,
    checksRate: m.checks?.values.rate ?? 1,
    transportErrors: count(METRIC.transport),
    unexpected: count(METRIC.unexpected),
    overloaded: count(METRIC.overloaded),
    rateLimited: count(METRIC.rateLimited),
    driftMedian: m[METRIC.drift]?.values.count ? m[METRIC.drift]?.values.med : undefined,
  };
}

/** Every threshold k6 evaluated, with its verdict (default summary shape only). */
export function failedThresholds(data: unknown): string[] {
  return Object.entries(metricsOf(data)).flatMap(([name, metric]) =>
    Object.entries(metric.thresholds ?? {})
      .filter(([, result]) => !result.ok)
      .map(([expression]) => `${name}: ${expression}`),
  );
}

const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(1));
const pct = (value: number) => `${(value * 100).toFixed(2)} %`;

export function textTable(
  data: unknown,
  title: string,
  slaScenarios?: readonly string[],
  proves?: string,
): string {
  const rows = endpointRows(data, slaScenarios);
  const t = totals(data);
  const failed = failedThresholds(data);
  const pass = rows.every((row) => row.pass) && failed.length === 0;
  const head = ['scenario', 'endpoint', 'p50 ms', 'p95 ms', 'p99 ms', 'reqs', 'errors', 'SLA'];
  const body = rows.map((row) => [
    row.scenario,
    row.endpoint,
    ms(row.p50),
    ms(row.p95),
    ms(row.p99),
    String(row.requests ?? '-'),
    String(row.errors),
    row.pass ? (row.sla ? 'pass' : 'info') : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i >= 2 && i <= 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const lines = [
    `${title}: ${pass ? 'PASS' : 'FAIL'}  (SLA p50<${LATENCY_MS.p50} p95<${LATENCY_MS.p95} p99<${LATENCY_MS.p99} ms, 0 failed requests, 100 % checks)`,
    ...(proves ? [`a pass proves: ${proves}`] : []),
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    `requests ${t.requests}  failed ${pct(t.failedRate)}  checks ${pct(t.checksRate)}  timeouts/resets ${t.transportErrors}  unexpected statuses ${t.unexpected}`,
    `503 overloaded ${t.overloaded}  429 rate limited ${t.rateLimited}` +
      (t.driftMedian === undefined
        ? ''
        : `  soak drift (late/early median) ${t.driftMedian.toFixed(2)} (max ${DRIFT_MAX_RATIO})`),
  ];
  if (failed.length > 0) lines.push('', 'failed thresholds:', ...failed.slice(0, 12).map((f) => `  ${f}`));
  if (failed.length > 12) lines.push(`  … and ${failed.length - 12} more (see the JSON)`);
  return `${lines.join('\n')}\n`;
}

/** The files handleSummary writes: `<dir>/<name>-<time>.json|.txt`, and the table on stdout. */
export function summaryOutputs(
  data: unknown,
  options: { resultsDir: string; name: string; now: Date; slaScenarios?: readonly string[]; proves?: string },
): Record<string, string> {
  const stamp = options.now.toISOString().replace(/[:.]/g, '-');
  const base = `${options.resultsDir.replace(/\/+$/, '')}/${options.name}-${stamp}`;
  const rows = endpointRows(data, options.slaScenarios);
  const table = textTable(data, `k6 ${options.name}`, options.slaScenarios, options.proves);
  const report = {
    suite: options.name,
    proves: options.proves,
    generated_at: options.now.toISOString(),
    pass: rows.every((row) => row.pass) && failedThresholds(data).length === 0,
    totals: totals(data),
    endpoints: rows,
    failed_thresholds: failedThresholds(data),
    k6: data,
  };
  return { stdout: table, [`${base}.txt`]: table, [`${base}.json`]: `${JSON.stringify(report, null, 2)}\n` };
}
