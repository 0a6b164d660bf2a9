// API overview: is Stowage answering, how fast, how much budget is left, and is it protecting itself?
import { AVAILABILITY_OBJECTIVE } from '../../ops/prometheus/slo-rules.ts';
import { DASHBOARD_UIDS, dashboard, graph, prom, row, single } from './panels.ts';

const HTTP = 'http_server_request_duration_seconds';
const NOT_PROBE = 'http_route!~"/livez|/readyz|/startupz"';
const RATE = '$__rate_interval';
const BUDGET = (1 - AVAILABILITY_OBJECTIVE).toFixed(3);

export const apiOverview = () =>
  dashboard(
    DASHBOARD_UIDS.apiOverview,
    'Stowage / API overview',
    'RED by route, the availability and latency SLOs with their burn rates and remaining budget, load shedding and handler timeouts.',
  )
    .withRow(row('Requests, errors, duration by route'))
    .withPanel(
      graph(
        'Requests by route',
        'Answers per second by route template (probes excluded).',
        'reqps',
        prom(`sum by (http_route) (rate(${HTTP}_count{${NOT_PROBE}}[${RATE}]))`, '{{http_route}}'),
      ),
    )
    .withPanel(
      graph(
        'Answers by status code',
        "Answers per second by HTTP status code: 4xx are the clients', 5xx are ours.",
        'reqps',
        prom(
          `sum by (http_response_status_code) (rate(${HTTP}_count{${NOT_PROBE}}[${RATE}]))`,
          '{{http_response_status_code}}',
        ),
      ),
    )
    .withPanel(
      graph(
        '5xx ratio by route',
        "Share of each route's answers that were 5xx.",
        'percentunit',
        prom(
          `sum by (http_route) (rate(${HTTP}_count{http_response_status_code=~"5..", ${NOT_PROBE}}[${RATE}]))\n/\nsum by (http_route) (rate(${HTTP}_count{${NOT_PROBE}}[${RATE}]))`,
          '{{http_route}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'p95 duration by route',
        "95th percentile of request duration per route (the app's own histogram, exact for every request).",
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, http_route) (rate(${HTTP}_bucket{${NOT_PROBE}}[${RATE}])))`,
          '{{http_route}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'Server span p95 by route, with exemplars (Tempo span metrics)',
        "The same latency from traces (Tempo's metrics generator): each exemplar dot is one sampled request; click it to open its trace.",
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, span_name) (rate(traces_spanmetrics_latency_bucket{service="stowage-api", span_kind="SPAN_KIND_SERVER"}[${RATE}])))`,
          '{{span_name}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'p50 / p99 duration (all routes)',
        'Median and 99th percentile over every route (probes excluded).',
        's',
        prom(
          `histogram_quantile(0.5, sum by (le) (rate(${HTTP}_bucket{${NOT_PROBE}}[${RATE}])))`,
          'p50',
          'A',
        ),
        prom(
          `histogram_quantile(0.99, sum by (le) (rate(${HTTP}_bucket{${NOT_PROBE}}[${RATE}])))`,
          'p99',
          'B',
        ),
      ),
    )
    .withPanel(
      graph(
        'In-flight requests by instance',
        'Requests being served now per scrape target; load shedding starts at MAX_IN_FLIGHT per process.',
        'short',
        prom('sum by (instance) (http_server_active_requests)', '{{instance}}'),
      ),
    )
    .withRow(row('SLOs: availability 99.9 % and latency (30 days)'))
    .withPanel(
      single(
        'Availability budget left (30 d)',
        '1 = the whole 30-day error budget left, 0 = spent (slo:stowage_availability:error_budget_remaining).',
        'percentunit',
        prom('slo:stowage_availability:error_budget_remaining', 'budget left'),
      ),
    )
    .withPanel(
      single(
        'Availability (30 d)',
        'Share of non-4xx answers that were not 5xx over 30 days; the objective is 99.9 %.',
        'percentunit',
        prom('1 - slo:stowage_availability_errors:ratio_rate30d', 'availability'),
      ),
    )
    .withPanel(
      single(
        'Availability burn rate (1 h)',
        'How fast the budget burns: 1 spends it in exactly 30 days; 14.4 over 1 h (with 5 m) pages.',
        'x',
        prom(`slo:stowage_availability_errors:ratio_rate1h / ${BUDGET}`, 'burn 1h'),
      ),
    )
    .withPanel(
      single(
        'Latency budget left (30 d), worst class',
        'The route class closest to spending its 30-day latency budget.',
        'percentunit',
        prom(
          'min(1 - slo:stowage_latency_slow:ratio_rate30d / on (route_class) (1 - slo:stowage_latency:objective))',
          'budget left',
        ),
      ),
    )
    .withPanel(
      graph(
        'Availability burn rate by window',
        'Error ratio divided by the 0.1 % budget over each alerting window: page when 1 h and 5 m exceed 14.4 (or 6 h and 30 m exceed 6).',
        'x',
        prom(`slo:stowage_availability_errors:ratio_rate5m / ${BUDGET}`, '5m', 'A'),
        prom(`slo:stowage_availability_errors:ratio_rate1h / ${BUDGET}`, '1h', 'B'),
        prom(`slo:stowage_availability_errors:ratio_rate6h / ${BUDGET}`, '6h', 'C'),
        prom(`slo:stowage_availability_errors:ratio_rate3d / ${BUDGET}`, '3d', 'D'),
      ),
    )
    .withPanel(
      graph(
        'Latency burn rate by route class (1 h)',
        "Share of requests over 200 ms divided by each class's budget (read and write 1 %, auth 5 %).",
        'x',
        prom(
          'slo:stowage_latency_slow:ratio_rate1h / on (route_class) (1 - slo:stowage_latency:objective)',
          '{{route_class}}',
        ),
      ),
    )
    .withRow(row('Protection: shedding, timeouts, runtime mode'))
    .withPanel(
      graph(
        'Shed requests (503 overloaded)',
        'Requests refused at once because the process was at MAX_IN_FLIGHT.',
        'reqps',
        prom(`sum by (instance) (rate(stowage_http_shed_requests_total[${RATE}]))`, '{{instance}}'),
      ),
    )
    .withPanel(
      graph(
        'Handler timeouts (504)',
        'Requests answered 504 because the handler had no response within HANDLER_TIMEOUT_MS.',
        'reqps',
        prom(`sum by (instance) (rate(stowage_http_handler_timeouts_total[${RATE}]))`, '{{instance}}'),
      ),
    )
    .withPanel(
      graph(
        'Runtime mode',
        '1 for the mode each instance applies (normal, degraded, read_only).',
        'short',
        prom('max by (mode) (stowage_runtime_mode)', '{{mode}}'),
      ),
    );
