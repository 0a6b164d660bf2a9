// The API's Prometheus metrics: the whole catalogue, in one registry. Names follow the OpenTelemetry
// semantic conventions as Prometheus writes them (`http.server.request.duration` in seconds →
// `http_server_request_duration_seconds`, attribute dots → underscores); the product's own are `stowage_*`.
// Dashboards and alert rules (ops/, dashboards/) are built on exactly these names; runbook/telemetry.md's
// table is generated from this registry (`pnpm docs:metrics`, checked by test/telemetry-docs.test.ts).
//
// Every label value is bounded: route templates (or `unmatched`), methods, status codes, policy and
// outcome names from fixed lists. Never an id, an email, a key or a raw path.
//
// Under `WEB_CONCURRENCY` workers the primary answers the scrape with prom-client's AggregatorRegistry:
// each metric's `aggregator` says how the workers' values combine (default `sum`).
import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from './version.ts';

export const registry = new Registry();
const registers = [registry];

/** Answers 50, 100, 200 and 500 ms SLOs exactly (a `le` bucket at each), up to the 10 s ceiling. */
export const HTTP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10,
];
const DB_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const S3_DURATION_BUCKETS = [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const HASH_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

// ── HTTP server ────────────────────────────────────────────────────────────────────────────────────────

export const httpServerDuration = new Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Duration of HTTP server requests, from the first middleware to the response (OTel http.server.request.duration). http_route is the route template, or `unmatched`.',
  labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
  buckets: HTTP_DURATION_BUCKETS,
  registers,
});

export const httpServerActiveRequests = new Gauge({
  name: 'http_server_active_requests',
  help: 'HTTP requests being handled now (OTel http.server.active_requests); load shedding refuses past MAX_IN_FLIGHT per process.',
  registers,
});

export const httpShedRequests = new Counter({
  name: 'stowage_http_shed_requests_total',
  help: 'Requests refused at once with 503 `overloaded` because the process already served MAX_IN_FLIGHT requests.',
  registers,
});

export const httpHandlerTimeouts = new Counter({
  name: 'stowage_http_handler_timeouts_total',
  help: 'Requests answered 504 `timeout` because the handler had no response within HANDLER_TIMEOUT_MS.',
  registers,
});

// ── Database ───────────────────────────────────────────────────────────────────────────────────────────

export const dbOperationDuration = new Histogram({
  name: 'db_client_operation_duration_seconds',
  help: 'Duration of Postgres statements of the API pool (OTel db.client.operation.duration); db_operation_name is the SQL verb (SELECT, INSERT, UPDATE, DELETE, BEGIN, …).',
  labelNames: ['db_operation_name'] as const,
  buckets: DB_DURATION_BUCKETS,
  registers,
});

/**
 * The API pools' load, kept by the query wrapper (postgres.js exposes no pool statistics): `busy` counts
 * statements and transactions started and not yet settled, of which at most `max` hold a connection.
 */
export type PoolLoad = { busy: number; max: number };
export const dbPools = new Set<PoolLoad>();
const sumPools = (f: (pool: PoolLoad) => number) => [...dbPools].reduce((sum, pool) => sum + f(pool), 0);

export const dbConnectionCount = new Gauge({
  name: 'db_client_connection_count',
  help: 'Connections of the API pool in use (state `used`: running a statement or holding a transaction) (OTel db.client.connection.count).',
  labelNames: ['db_client_connection_state'] as const,
  registers,
  collect() {
    this.set(
      { db_client_connection_state: 'used' },
      sumPools((pool) => Math.min(pool.busy, pool.max)),
    );
  },
});

export const dbConnectionPendingRequests = new Gauge({
  name: 'db_client_connection_pending_requests',
  help: 'Statements and transactions waiting for a free connection of the API pool (OTel db.client.connection.pending_requests); > 0 for long means DATABASE_POOL_MAX is too small or Postgres is slow.',
  registers,
  collect() {
    this.set(sumPools((pool) => Math.max(0, pool.busy - pool.max)));
  },
});

export const dbConnectionMax = new Gauge({
  name: 'db_client_connection_max',
  help: 'DATABASE_POOL_MAX summed over processes: the most connections the API pools open (OTel db.client.connection.max).',
  registers,
  collect() {
    this.set(sumPools((pool) => pool.max));
  },
});

// ── Object store ───────────────────────────────────────────────────────────────────────────────────────

export const s3OperationDuration = new Histogram({
  name: 'stowage_s3_operation_duration_seconds',
  help: 'Duration of object-store API calls by operation (PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload, GetObject, DeleteObject, HeadBucket, …) and outcome (ok, error), retries included.',
  labelNames: ['operation', 'outcome'] as const,
  buckets: S3_DURATION_BUCKETS,
  registers,
});

// ── Rate limits ────────────────────────────────────────────────────────────────────────────────────────

export const rateLimitDecisions = new Counter({
  name: 'stowage_ratelimit_decisions_total',
  help: 'Rate-limit decisions by policy (login, register, password_reset, account, api_key, auth_failures, login_failures) and outcome (allowed, rejected).',
  labelNames: ['policy', 'outcome'] as const,
  registers,
});

export const rateLimitFallbackDecisions = new Counter({
  name: 'stowage_ratelimit_fallback_decisions_total',
  help: 'Decisions the in-memory insurance limiter made because the Postgres limiter store failed (per instance, so limits are looser).',
  labelNames: ['policy'] as const,
  registers,
});

const FALLBACK_ACTIVE_MS = 30_000;
let lastFallbackAt = Number.NEGATIVE_INFINITY;

export const rateLimitFallbackActive = new Gauge({
  name: 'stowage_ratelimit_fallback_active',
  help: '1 while the insurance limiter has answered within the last 30 s in some process, else 0.',
  aggregator: 'max',
  registers,
  collect() {
    this.set(Date.now() - lastFallbackAt < FALLBACK_ACTIVE_MS ? 1 : 0);
  },
});

/** The insurance limiter answered for `policy` (a key prefix such as `api_key:free`). */
export function recordRateLimitFallback(policy: string): void {
  lastFallbackAt = Date.now();
  rateLimitFallbackDecisions.inc({ policy: policy.split(':')[0] });
}

// ── Authentication ─────────────────────────────────────────────────────────────────────────────────────

export const authAttempts = new Counter({
  name: 'stowage_auth_attempts_total',
  help: 'Authentication attempts by method (password = login, refresh, session = bearer access token, api_key) and outcome (success, failure = bad credentials, locked = refused by a lock-out, disabled, error = could not be checked).',
  labelNames: ['method', 'outcome'] as const,
  registers,
});

export const passwordHashDuration = new Histogram({
  name: 'stowage_password_hash_duration_seconds',
  help: 'argon2id work by operation (hash, verify): the CPU cost of logins, sign-ups and password changes.',
  labelNames: ['operation'] as const,
  buckets: HASH_DURATION_BUCKETS,
  registers,
});

export const sessionCacheLookups = new Counter({
  name: 'stowage_session_cache_lookups_total',
  help: 'Session-cache lookups by outcome (hit, miss); a miss costs the session and account lookups.',
  labelNames: ['outcome'] as const,
  registers,
});

export const sessionCacheListenerUp = new Gauge({
  name: 'stowage_session_cache_listener_up',
  help: '1 while the `principal_changes` listener is connected in every process (the session cache answers only then), else 0 (also when the cache is off).',
  aggregator: 'min',
  registers,
});

// ── Documents ──────────────────────────────────────────────────────────────────────────────────────────

export const uploads = new Counter({
  name: 'stowage_uploads_total',
  help: 'Upload requests that reached the service, by outcome (stored, too_large, quota_exceeded, unsupported_type, invalid, aborted = client gone or timed out, failed = storage or database error).',
  labelNames: ['outcome'] as const,
  registers,
});

export const uploadBytes = new Counter({
  name: 'stowage_upload_bytes_total',
  help: 'Bytes of documents stored (counted when an upload is committed).',
  registers,
});

export const quotaRejections = new Counter({
  name: 'stowage_quota_rejections_total',
  help: 'Uploads refused with 413 `quota_exceeded` because the account had no room left.',
  registers,
});

export const idempotencyOutcomes = new Counter({
  name: 'stowage_idempotency_requests_total',
  help: 'POSTs carrying an Idempotency-Key by outcome: executed (first time), replayed (stored answer returned), conflict (key reused with another request, 422), in_progress (409).',
  labelNames: ['outcome'] as const,
  registers,
});

// ── Process ────────────────────────────────────────────────────────────────────────────────────────────

const RUNTIME_MODES = ['normal', 'degraded', 'read_only'];
let readRuntimeMode: (() => string) | undefined;
/** The server tells where its runtime mode is read from. */
export const watchRuntimeMode = (read: () => string) => {
  readRuntimeMode = read;
};

export const runtimeMode = new Gauge({
  name: 'stowage_runtime_mode',
  help: '1 for the runtime mode the instances apply (normal, degraded, read_only), 0 for the others (max over processes).',
  labelNames: ['mode'] as const,
  aggregator: 'max',
  registers,
  collect() {
    if (!readRuntimeMode) return;
    const current = readRuntimeMode();
    for (const mode of RUNTIME_MODES) this.set({ mode }, mode === current ? 1 : 0);
  },
});

export const buildInfo = new Gauge({
  name: 'stowage_build_info',
  help: 'Always 1; the labels tell the running version and Node.js version.',
  labelNames: ['version', 'node_version'] as const,
  aggregator: 'max',
  registers,
});
buildInfo.set({ version: VERSION, node_version: process.version }, 1);

let lastElu = performance.eventLoopUtilization();
export const eventLoopUtilization = new Gauge({
  name: 'nodejs_eventloop_utilization_ratio',
  help: 'Share of time the event loop was busy since the previous scrape (0–1; averaged over workers). Near 1: the process is CPU-bound.',
  aggregator: 'average',
  registers,
  collect() {
    const now = performance.eventLoopUtilization();
    this.set(performance.eventLoopUtilization(now, lastElu).utilization);
    lastElu = now;
  },
});

let runtimeMetrics = false;
/**
 * Node runtime: process_cpu_*, process_resident_memory_bytes, process_open_fds, nodejs_eventloop_lag_*,
 * nodejs_heap_*, nodejs_gc_duration_seconds, nodejs_active_handles, … (prom-client's defaults). Started
 * with the metrics listener: they keep an event-loop delay monitor and a GC observer running.
 */
export function startRuntimeMetrics(): void {
  if (runtimeMetrics) return;
  runtimeMetrics = true;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
}

/**
 * METRICS_ENABLED=false: every instrument becomes a no-op, so the request path pays nothing for them
 * (the budget benchmark's baseline).
 */
export function disableMetrics(): void {
  const noop = () => {};
  for (const metric of registry.getMetricsAsArray()) {
    Object.assign(metric, { inc: noop, dec: noop, set: noop, observe: noop, startTimer: () => noop });
  }
}

/** Route label of a request that matched no route: raw paths would make one series per URL ever seen. */
export const UNMATCHED_ROUTE = 'unmatched';
