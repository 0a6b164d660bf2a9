// The release SLA: the one place its numbers live. k6 thresholds (lib/thresholds.ts), the summary's
// pass/fail column (lib/summary.ts) and the soak drift gate all read them from here.

/** Latency per covered endpoint, in milliseconds. */
export const LATENCY_MS = { p50: 100, p95: 200, p99: 500 } as const;

/** Share of failed requests allowed (k6 `http_req_failed`, with the scenario's expected statuses). */
export const FAILED_RATE = 0;

/** Share of checks that must pass. */
export const CHECKS_RATE = 1;

/** Soak: a late-window request may take at most this multiple of its VU's early-window median (median ratio). */
export const DRIFT_MAX_RATIO = 1.5;

/** The k6 threshold expressions of one endpoint's latency. */
export const latencyThresholds = (): string[] => [
  `p(50)<${LATENCY_MS.p50}`,
  `p(95)<${LATENCY_MS.p95}`,
  `p(99)<${LATENCY_MS.p99}`,
];
