// Logs and traces: the error and slow-request lines in Loki, every line of one request (by its
// request_id, the value an error body and the X-Request-ID header carry), and Tempo searches.
// The collector ships the processes' stdout to Loki over OTLP (ops/otel-collector/config.yaml): pino's
// `service` is the `service_name` label; level, request_id, route, duration_ms and the other fields are
// structured metadata (filtered without a parser); trace_id and span_id are the record's trace context.
import { TextBoxVariableBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARD_UIDS, dashboard, logPanel, logql, logRate, row, traceql, traceTable } from './panels.ts';

const SERVICES = '{service_name="stowage"}';
const ERRORS = `${SERVICES} | level=~"error|fatal"`;

export const logsTraces = () =>
  dashboard(
    DASHBOARD_UIDS.logsTraces,
    'Stowage / Logs and traces',
    "Error and slow-request log lines, one request's whole trail by request_id, and Tempo searches for slow and failed traces.",
  )
    .withVariable(
      new TextBoxVariableBuilder('request_id')
        .label('Request ID')
        .description(
          'The request_id of an error body or X-Request-ID header: every log line and the trace of that one request.',
        )
        .defaultValue(''),
    )
    .withRow(row('One request'))
    .withPanel(
      logPanel(
        'Log lines of request $request_id',
        'Every line written while serving the request (access line included); each carries trace_id: open the trace from the line.',
        logql(`${SERVICES} | request_id="$request_id"`),
      ),
    )
    .withPanel(
      traceTable(
        'Trace of request $request_id',
        'The server span carries stowage.request_id; the trace holds its db, S3, rate-limit and argon2 children.',
        traceql('{ span.stowage.request_id = "$request_id" }'),
      ),
    )
    .withRow(row('Errors and slow requests'))
    .withPanel(
      logRate(
        'Error lines per minute',
        'Lines at level error or fatal (each one links to its trace by trace_id).',
        logql(`sum by (route) (count_over_time(${ERRORS} [1m]))`),
      ),
    )
    .withPanel(
      logRate(
        'Slow requests per minute by route',
        'The "slow request" lines (past SLOW_REQUEST_MS; an error line past 3×), by route.',
        logql(`sum by (route) (count_over_time(${SERVICES} |= "slow request" [1m]))`),
      ),
    )
    .withPanel(logPanel('Error lines', 'The latest error and fatal lines.', logql(ERRORS)))
    .withPanel(
      logPanel(
        'Slow requests',
        'Each slow request with its route, duration_ms, db_queries, db_ms and trace_id.',
        logql(`${SERVICES} |= "slow request"`),
      ),
    )
    .withRow(row('Traces'))
    .withPanel(
      traceTable(
        'Slow server spans (> 500 ms)',
        'Requests slower than 500 ms: open one to see where the time went.',
        traceql('{ resource.service.name = "stowage-api" && kind = server && duration > 500ms }'),
      ),
    )
    .withPanel(
      traceTable(
        'Failed traces',
        'Traces with a span in error (5xx answers, failed S3 or database calls).',
        traceql('{ resource.service.name =~ "stowage-.*" && status = error }'),
      ),
    );
