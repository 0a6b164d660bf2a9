// Dependencies: Postgres (statements and pool), the object store, the rate limiter and its insurance
// fallback, the session cache, argon2 and the upload pipeline.
import { DASHBOARD_UIDS, dashboard, graph, prom, row, single } from './panels.ts';

const RATE = '$__rate_interval';

export const dependencies = () =>
  dashboard(
    DASHBOARD_UIDS.dependencies,
    'Stowage / Dependencies',
    'Postgres latency and pool, S3 latency and errors, rate-limit decisions and the insurance fallback, session cache, uploads.',
  )
    .withRow(row('Postgres'))
    .withPanel(
      graph(
        'Statement p95 by operation',
        'db_client_operation_duration_seconds: 95th percentile per SQL verb.',
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, db_operation_name) (rate(db_client_operation_duration_seconds_bucket[${RATE}])))`,
          '{{db_operation_name}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'Statements by operation',
        'Statements per second per SQL verb.',
        'ops',
        prom(
          `sum by (db_operation_name) (rate(db_client_operation_duration_seconds_count[${RATE}]))`,
          '{{db_operation_name}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'Pool connections by state',
        'Connections of the API pool in use and idle, against DATABASE_POOL_MAX.',
        'short',
        prom(
          'sum by (instance, db_client_connection_state) (db_client_connection_count)',
          '{{instance}} {{db_client_connection_state}}',
          'A',
        ),
        prom('sum by (instance) (db_client_connection_max)', '{{instance}} max', 'B'),
      ),
    )
    .withPanel(
      graph(
        'Waiting for a connection',
        'Statements queued for a free pool connection: above 0 for long means the pool is too small or Postgres is slow.',
        'short',
        prom('sum by (instance) (db_client_connection_pending_requests)', '{{instance}}'),
      ),
    )
    .withRow(row('Object store (S3)'))
    .withPanel(
      graph(
        'S3 call p95 by operation',
        'stowage_s3_operation_duration_seconds; put is the whole streamed upload.',
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, operation) (rate(stowage_s3_operation_duration_seconds_bucket[${RATE}])))`,
          '{{operation}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'S3 errors by operation',
        'Object-store calls that failed, per second.',
        'ops',
        prom(
          `sum by (operation) (rate(stowage_s3_operation_duration_seconds_count{outcome="error"}[${RATE}]))`,
          '{{operation}}',
        ),
      ),
    )
    .withRow(row('Rate limits'))
    .withPanel(
      graph(
        'Limiter decisions by policy and outcome',
        'stowage_ratelimit_decisions_total: allowed and rejected per policy.',
        'ops',
        prom(
          `sum by (policy, outcome) (rate(stowage_ratelimit_decisions_total[${RATE}]))`,
          '{{policy}} {{outcome}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'Insurance limiter decisions',
        'Decisions the in-memory insurance limiter made because the Postgres store failed (limits are looser then).',
        'ops',
        prom(`sum by (policy) (rate(stowage_ratelimit_fallback_decisions_total[${RATE}]))`, '{{policy}}'),
      ),
    )
    .withPanel(
      single(
        'Insurance limiter active',
        '1 while some process answered from the insurance limiter in the last 30 s.',
        'short',
        prom('max(stowage_ratelimit_fallback_active)', 'active'),
      ),
    )
    .withRow(row('Authentication and session cache'))
    .withPanel(
      single(
        'Session cache listener',
        '1 while the principal_changes listener is connected in every process; 0: the cache is off.',
        'short',
        prom('min(stowage_session_cache_listener_up)', 'listener up'),
      ),
    )
    .withPanel(
      single(
        'Session cache hit ratio',
        'Share of session lookups answered from the cache.',
        'percentunit',
        prom(
          `sum(rate(stowage_session_cache_lookups_total{outcome="hit"}[${RATE}])) / sum(rate(stowage_session_cache_lookups_total[${RATE}]))`,
          'hit ratio',
        ),
      ),
    )
    .withPanel(
      graph(
        'Auth attempts by method and outcome',
        'stowage_auth_attempts_total per second.',
        'ops',
        prom(
          `sum by (method, outcome) (rate(stowage_auth_attempts_total[${RATE}]))`,
          '{{method}} {{outcome}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'argon2 p95 by operation',
        'Password hashing and verification time: the CPU cost of logins and sign-ups.',
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, operation) (rate(stowage_password_hash_duration_seconds_bucket[${RATE}])))`,
          '{{operation}}',
        ),
      ),
    )
    .withRow(row('Uploads'))
    .withPanel(
      graph(
        'Uploads by outcome',
        'stowage_uploads_total per second: stored, and every reason an upload was refused or failed.',
        'ops',
        prom(`sum by (outcome) (rate(stowage_uploads_total[${RATE}]))`, '{{outcome}}'),
      ),
    )
    .withPanel(
      graph(
        'Upload bytes stored',
        'Bytes of documents committed per second.',
        'Bps',
        prom(`sum(rate(stowage_upload_bytes_total[${RATE}]))`, 'bytes/s'),
      ),
    )
    .withPanel(
      graph(
        'Quota rejections',
        'Uploads refused with 413 quota_exceeded per second.',
        'ops',
        prom(`sum(rate(stowage_quota_rejections_total[${RATE}]))`, 'rejections/s'),
      ),
    )
    .withPanel(
      graph(
        'Idempotency outcomes',
        'POSTs with an Idempotency-Key: executed, replayed, conflict, in_progress.',
        'ops',
        prom(`sum by (outcome) (rate(stowage_idempotency_requests_total[${RATE}]))`, '{{outcome}}'),
      ),
    );
