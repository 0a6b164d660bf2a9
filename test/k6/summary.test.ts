import { describe, expect, it } from 'vitest';
import { endpointRows, metricsOf, summaryOutputs, tagsOf, textTable } from '../../k6/lib/summary.ts';

const trend = (p50: number, p95: number, p99: number, count: number, ok?: boolean) => ({
  type: 'trend',
  values: { med: p50, 'p(50)': p50, 'p(95)': p95, 'p(99)': p99, count },
  ...(ok === undefined
    ? {}
    : { thresholds: { 'p(50)<100': { ok }, 'p(95)<200': { ok }, 'p(99)<500': { ok } } }),
});
const counter = (count: number, ok?: boolean, expression = 'count==0') => ({
  type: 'counter',
  values: { count, rate: count / 60 },
  ...(ok === undefined ? {} : { thresholds: { [expression]: { ok } } }),
});

// The default handleSummary shape: metrics keyed by (sub-)metric name, each threshold with `ok`.
const k6Default = {
  metrics: {
    http_reqs: counter(1234),
    http_req_failed: {
      type: 'rate',
      values: { rate: 0, passes: 0, fails: 1234 },
      thresholds: { 'rate==0': { ok: true } },
    },
    checks: {
      type: 'rate',
      values: { rate: 1, passes: 900, fails: 0 },
      thresholds: { 'rate==1': { ok: true } },
    },
    'http_req_duration{scenario:load,endpoint:GET /v1/documents}': trend(12.3, 45.6, 78.9, 600, true),
    'http_reqs{scenario:load,endpoint:GET /v1/documents}': counter(600, true, 'count>0'),
    'unexpected_status{scenario:load,endpoint:GET /v1/documents}': counter(0, true),
    'http_req_duration{scenario:load,endpoint:GET /v1/documents/{id}}': trend(20, 250, 600, 590, false),
    'unexpected_status{scenario:load,endpoint:GET /v1/documents/{id}}': counter(3, false),
  },
  setup_data: { suite: 'load' },
};

describe('handleSummary output', () => {
  it('reads tags, braces in values included', () => {
    expect(tagsOf('http_req_duration{scenario:load,endpoint:GET /v1/documents/{id}}')).toEqual({
      scenario: 'load',
      endpoint: 'GET /v1/documents/{id}',
    });
  });

  it('makes one row per endpoint with percentiles, errors and k6’s threshold verdicts', () => {
    expect(endpointRows(k6Default)).toEqual([
      {
        scenario: 'load',
        endpoint: 'GET /v1/documents',
        p50: 12.3,
        p95: 45.6,
        p99: 78.9,
        requests: 600,
        errors: 0,
        sla: true,
        pass: true,
      },
      {
        scenario: 'load',
        endpoint: 'GET /v1/documents/{id}',
        p50: 20,
        p95: 250,
        p99: 600,
        requests: 590,
        errors: 3,
        sla: true,
        pass: false,
      },
    ]);
  });

  it('prints a one-screen table that says FAIL and why', () => {
    const table = textTable(k6Default, 'k6 load');
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^k6 load: FAIL/);
    expect(lines).toContain('scenario  endpoint                p50 ms  p95 ms  p99 ms  reqs  errors  SLA');
    expect(table).toContain('load      GET /v1/documents/{id}    20.0   250.0   600.0   590       3  FAIL');
    expect(table).toContain('load      GET /v1/documents         12.3    45.6    78.9   600       0  pass');
    expect(table).toContain('http_req_duration{scenario:load,endpoint:GET /v1/documents/{id}}: p(95)<200');
    expect(lines.length).toBeLessThan(40);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(160);
  });

  it('judges the machine-readable shape (no per-threshold verdicts) against sla.ts', () => {
    const machine = {
      results: {
        passed: false,
        metrics: [
          {
            name: 'http_req_duration{scenario:soak,endpoint:POST /v1/auth/login}',
            type: 'trend',
            values: { med: 90, 'p(95)': 150, 'p(99)': 510, count: 50 },
          },
          {
            name: 'http_req_duration{scenario:soak,endpoint:GET /v1/me}',
            type: 'trend',
            values: { med: 9, 'p(95)': 15, 'p(99)': 20, count: 50 },
          },
        ],
      },
    };
    expect(Object.keys(metricsOf(machine))).toHaveLength(2);
    expect(endpointRows(machine).every((row) => row.pass && !row.sla)).toBe(true); // unknown: not judged
    expect(endpointRows(machine, ['soak']).map((row) => [row.endpoint, row.pass])).toEqual([
      ['GET /v1/me', true],
      ['POST /v1/auth/login', false],
    ]);
  });

  it('writes the JSON and the table under RESULTS_DIR, and the table to stdout', () => {
    const outputs = summaryOutputs(k6Default, {
      resultsDir: '/tmp/k6-results/',
      name: 'load',
      now: new Date('2026-11-30T10:00:00.000Z'),
    });
    expect(Object.keys(outputs).sort()).toEqual([
      '/tmp/k6-results/load-2026-11-30T10-00-00-000Z.json',
      '/tmp/k6-results/load-2026-11-30T10-00-00-000Z.txt',
      'stdout',
    ]);
    const report = JSON.parse(outputs['/tmp/k6-results/load-2026-11-30T10-00-00-000Z.json']!);
    expect(report).toMatchObject({
      suite: 'load',
      pass: false,
      totals: { requests: 1234, failedRate: 0, checksRate: 1 },
    });
    expect(report.failed_thresholds).toHaveLength(4);
    expect(outputs.stdout).toBe(outputs['/tmp/k6-results/load-2026-11-30T10-00-00-000Z.txt']);
  });
});
