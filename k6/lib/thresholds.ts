// SLA → k6 thresholds. Every endpoint a suite covers gets, in each scenario the SLA applies to, its own
// p50/p95/p99 thresholds and its own error counter; an explicitly chosen suite also requires that each
// of its endpoints was called at all (a renamed tag must not turn a threshold into a silent pass).
import { CHECKS_RATE, DRIFT_MAX_RATIO, FAILED_RATE, latencyThresholds } from '../sla.ts';
import { ADMIN_ENDPOINTS, type Endpoint } from './endpoints.ts';
import type { Suite } from './suites.ts';

/** Custom metric names (k6/metrics), shared by the scripts, the thresholds and the summary. */
export const METRIC = {
  unexpected: 'unexpected_status',
  transport: 'transport_errors',
  overloaded: 'overloaded_responses',
  rateLimited: 'rate_limited_responses',
  drift: 'soak_drift_ratio',
} as const;

export type Thresholds = Record<string, string[]>;

/** A threshold that cannot fail: it makes k6 report a sub-metric without judging it. */
export const INFORMATIONAL = 'max>=0';

export const tagged = (metric: string, tags: Record<string, string>): string =>
  `${metric}{${Object.entries(tags)
    .map(([key, value]) => `${key}:${value}`)
    .join(',')}}`;

export type ThresholdOptions = {
  /** The suite was named (SCENARIO or an entry file), so "was it called at all" can be required. */
  explicit: boolean;
  /** BOOTSTRAP_ADMIN_* were given: the admin endpoints are called. */
  admin: boolean;
};

/** The endpoints a suite calls in this configuration. */
export const coveredEndpoints = (suite: Suite, admin: boolean): Endpoint[] =>
  suite.endpoints.filter((endpoint) => admin || !ADMIN_ENDPOINTS.includes(endpoint));

export function thresholdsFor(selected: Suite[], options: ThresholdOptions): Thresholds {
  const thresholds: Thresholds = {
    http_req_failed: [`rate==${FAILED_RATE}`],
    checks: [`rate==${CHECKS_RATE}`],
    [METRIC.transport]: ['count==0'],
    [METRIC.unexpected]: ['count==0'],
  };
  for (const suite of selected) {
    const endpoints = coveredEndpoints(suite, options.admin);
    for (const scenario of Object.keys(suite.scenarios)) {
      for (const endpoint of endpoints) {
        const tags = { scenario, endpoint };
        thresholds[tagged(METRIC.unexpected, tags)] = ['count==0'];
        if (suite.slaScenarios.includes(scenario)) {
          thresholds[tagged('http_req_duration', tags)] = latencyThresholds();
          if (options.explicit) thresholds[tagged('http_reqs', tags)] = ['count>0'];
        } else {
          // Always true: it only makes k6 keep the per-endpoint latency for the summary (no SLA past capacity).
          thresholds[tagged('http_req_duration', tags)] = [INFORMATIONAL];
        }
      }
    }
    if (suite.name === 'stress' && options.explicit) thresholds[METRIC.overloaded] = ['count>0'];
    if (suite.name === 'limits' && options.explicit) thresholds[METRIC.rateLimited] = ['count>0'];
    if (suite.name === 'soak') {
      for (const window of ['early', 'late']) {
        thresholds[tagged('http_req_duration', { scenario: 'soak', window })] = latencyThresholds();
      }
      thresholds[METRIC.drift] = [`med<${DRIFT_MAX_RATIO}`];
    }
  }
  return thresholds;
}

/** Trend statistics the summary needs (k6 `summaryTrendStats`). */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(95)', 'p(99)', 'count'];

/** Endpoints of `endpoints` without their SLA latency thresholds in `scenario` (empty: all covered). */
export function uncovered(endpoints: readonly string[], thresholds: Thresholds, scenario: string): string[] {
  return endpoints.filter((endpoint) => {
    const latency = thresholds[tagged('http_req_duration', { scenario, endpoint })] ?? [];
    return !['p(50)', 'p(95)', 'p(99)'].every((stat) =>
      latency.some((expression) => expression.startsWith(stat)),
    );
  });
}
