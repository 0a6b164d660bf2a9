// The SLO recording rules and their multiwindow, multi-burn-rate alerts, as code: the windows, burn
// factors and route classes are data here, so the dozens of near-identical rules cannot drift apart.
// `pnpm slo:rules` writes ops/prometheus/rules/slo.rules.yml; test/ops/generated.test.ts fails when the
// committed file differs from what this produces.
//
// Availability SLI: 5xx answers (handler timeouts are 504, shed requests 503) against every answer that
// is not a 4xx, probes excluded. 99.9 % over 30 days.
// Latency SLI: the share of 2xx/3xx answers within 200 ms, per route class. Transfers (upload, content
// download) are excluded: their time grows with the size the client chose.
// Burn rates and windows: Google SRE workbook, chapter 5 (page: 14.4× over 1 h and 5 m, 6× over 6 h and
// 30 m; ticket: 3× over 1 d and 2 h, 1× over 3 d and 6 h).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { biomeFormat } from '../../dashboards/src/format.ts';
import { alertLink } from '../../dashboards/src/links.ts';

const HTTP = 'http_server_request_duration_seconds';
const NOT_PROBE = 'http_route!~"/livez|/readyz|/startupz"';
const TRANSFER = '/v1/(documents|exports)/[^/]+/content';

export const AVAILABILITY_OBJECTIVE = 0.999;
export const LATENCY_THRESHOLD_SECONDS = 0.2;

/** Route classes of the latency SLO: selector (on the duration histogram) and objective. */
export const ROUTE_CLASSES = {
  // Reads: metadata, lists, /v1/me. Content downloads stream the whole object and are excluded.
  read: {
    selector: `http_request_method=~"GET|HEAD", ${NOT_PROBE}, http_route!~"${TRANSFER}"`,
    objective: 0.99,
  },
  // Writes other than uploads and authentication.
  write: {
    selector: `http_request_method=~"POST|PUT|PATCH|DELETE", http_route!~"/v1/auth/.*|/v1/documents"`,
    objective: 0.99,
  },
  // Authentication does argon2id work by design (stowage_password_hash_duration_seconds): a looser objective.
  auth: { selector: 'http_route=~"/v1/auth/.*"', objective: 0.95 },
} as const;

export const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const;
type Window = (typeof WINDOWS)[number];

const BURNS = {
  fast: [
    { factor: 14.4, long: '1h', short: '5m' },
    { factor: 6, long: '6h', short: '30m' },
  ],
  slow: [
    { factor: 3, long: '1d', short: '2h' },
    { factor: 1, long: '3d', short: '6h' },
  ],
} as const satisfies Record<string, { factor: number; long: Window; short: Window }[]>;

export const availabilityRatio = (w: Window) => `slo:stowage_availability_errors:ratio_rate${w}`;
export const latencyRatio = (w: Window) => `slo:stowage_latency_slow:ratio_rate${w}`;

function availabilityRecords() {
  return WINDOWS.map((w) => ({
    record: availabilityRatio(w),
    expr: `sum(rate(${HTTP}_count{http_response_status_code=~"5..", ${NOT_PROBE}}[${w}]))\n/\nsum(rate(${HTTP}_count{http_response_status_code!~"4..", ${NOT_PROBE}}[${w}]))`,
  }));
}

function latencyRecords() {
  return Object.entries(ROUTE_CLASSES).flatMap(([routeClass, { selector }]) =>
    WINDOWS.map((w) => ({
      record: latencyRatio(w),
      expr: `1 - (\n  sum(rate(${HTTP}_bucket{le="${LATENCY_THRESHOLD_SECONDS}", http_response_status_code=~"[23]..", ${selector}}[${w}]))\n  /\n  sum(rate(${HTTP}_count{http_response_status_code=~"[23]..", ${selector}}[${w}]))\n)`,
      labels: { route_class: routeClass },
    })),
  );
}

function objectiveRecords() {
  return [
    { record: 'slo:stowage_availability:objective', expr: `vector(${AVAILABILITY_OBJECTIVE})` },
    ...Object.entries(ROUTE_CLASSES).map(([routeClass, { objective }]) => ({
      record: 'slo:stowage_latency:objective',
      expr: `vector(${objective})`,
      labels: { route_class: routeClass },
    })),
    {
      // 1 = the whole 30-day budget left, 0 = spent, below 0 = overspent.
      record: 'slo:stowage_availability:error_budget_remaining',
      expr: `1 - ${availabilityRatio('30d')} / ${(1 - AVAILABILITY_OBJECTIVE).toFixed(3)}`,
    },
  ];
}

const fmt = (n: number) => Number(n.toPrecision(6)).toString();

function burnExpr(series: (w: Window) => string, budget: number, speed: keyof typeof BURNS, matcher = '') {
  return BURNS[speed]
    .map(
      ({ factor, long, short }) =>
        `(\n  ${series(long)}${matcher} > ${fmt(factor * budget)}\n  and\n  ${series(short)}${matcher} > ${fmt(factor * budget)}\n)`,
    )
    .join('\nor\n');
}

function availabilityAlerts() {
  const budget = 1 - AVAILABILITY_OBJECTIVE;
  return [
    {
      alert: 'StowageAvailabilityBudgetBurnFast',
      expr: burnExpr(availabilityRatio, budget, 'fast'),
      for: '2m',
      labels: { severity: 'page', slo: 'availability' },
      annotations: {
        summary: 'Stowage is burning its 30-day availability error budget fast',
        description:
          '{{ $value | humanizePercentage }} of non-4xx answers were 5xx over the last hour (the 99.9 % objective allows 0.1 %); at this rate the month budget is gone in under 3 days.',
        runbook_url: alertLink('StowageAvailabilityBudgetBurnFast'),
      },
    },
    {
      alert: 'StowageAvailabilityBudgetBurnSlow',
      expr: burnExpr(availabilityRatio, budget, 'slow'),
      for: '15m',
      labels: { severity: 'ticket', slo: 'availability' },
      annotations: {
        summary: 'Stowage is steadily burning its availability error budget',
        description:
          '{{ $value | humanizePercentage }} of non-4xx answers were 5xx over the long window (objective allows 0.1 %); the 30-day budget runs out before the month does.',
        runbook_url: alertLink('StowageAvailabilityBudgetBurnSlow'),
      },
    },
  ];
}

function latencyAlerts() {
  return Object.entries(ROUTE_CLASSES).flatMap(([routeClass, { objective }]) => {
    const budget = 1 - objective;
    const matcher = `{route_class="${routeClass}"}`;
    const within = `${Math.round(objective * 1000) / 10} %`;
    return [
      {
        alert: 'StowageLatencyBudgetBurnFast',
        expr: burnExpr(latencyRatio, budget, 'fast', matcher),
        for: '2m',
        labels: { severity: 'page', slo: 'latency', route_class: routeClass },
        annotations: {
          summary: 'Stowage {{ $labels.route_class }} requests are burning the latency budget fast',
          description: `{{ $value | humanizePercentage }} of {{ $labels.route_class }} requests took longer than 200 ms (the objective is ${within} within 200 ms).`,
          runbook_url: alertLink('StowageLatencyBudgetBurnFast'),
        },
      },
      {
        alert: 'StowageLatencyBudgetBurnSlow',
        expr: burnExpr(latencyRatio, budget, 'slow', matcher),
        for: '15m',
        labels: { severity: 'ticket', slo: 'latency', route_class: routeClass },
        annotations: {
          summary: 'Stowage {{ $labels.route_class }} requests are steadily burning the latency budget',
          description: `{{ $value | humanizePercentage }} of {{ $labels.route_class }} requests took longer than 200 ms over the long window (objective ${within} within 200 ms).`,
          runbook_url: alertLink('StowageLatencyBudgetBurnSlow'),
        },
      },
    ];
  });
}

export function sloRules() {
  return {
    groups: [
      { name: 'stowage-slo-availability', rules: availabilityRecords() },
      { name: 'stowage-slo-latency', rules: latencyRecords() },
      { name: 'stowage-slo-objectives', rules: objectiveRecords() },
      { name: 'stowage-slo-alerts', rules: [...availabilityAlerts(), ...latencyAlerts()] },
    ],
  };
}

export const SLO_RULES_FILE = fileURLToPath(new URL('./rules/slo.rules.yml', import.meta.url));

export function renderSloRules() {
  return biomeFormat(
    'ops/prometheus/rules/slo.rules.yml',
    `# Generated by \`pnpm slo:rules\` from ops/prometheus/slo-rules.ts: edit that file, not this one.\n${stringify(sloRules(), { lineWidth: 0 })}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SLO_RULES_FILE, renderSloRules());
  console.error(`wrote ${SLO_RULES_FILE}`);
}
