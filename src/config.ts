import { z } from 'zod';
import { DEFAULT_TRUSTED_PROXIES, parseCidr } from './platform/client-ip.ts';

// Every environment variable the process reads is declared here, once. The runbook's environment table
// is generated from this schema (`pnpm docs:env`), so each field's description is operator-facing text.

const int = (description: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback).describe(description);

// Not z.stringbool(): its failure aborts the object, which would hide the other variables' problems.
const boolText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value))
  .meta({ format: 'boolean' });

const bool = (description: string, fallback: boolean) => boolText.default(fallback).describe(description);

const csv = (description: string) =>
  z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .describe(description);

const RATE = /^(\d+)\/(\d*)(s|m|h)(?: burst (\d+))?$/;
const UNIT_S = { s: 1, m: 60, h: 3600 } as const;

/** `10/1m`, `5/15m`, `100/1m burst 10`: requests per window, and optionally how many may come back-to-back. */
const rate = (description: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = RATE.exec(text.trim());
      const points = Number(match?.[1]);
      const windowS = Number(match?.[2] || 1) * UNIT_S[(match?.[3] ?? 's') as keyof typeof UNIT_S];
      const burst = match?.[4] === undefined ? undefined : Number(match[4]);
      if (!match || points < 1 || windowS < 1 || (burst !== undefined && (burst < 1 || burst > points))) {
        ctx.addIssue({ code: 'custom', message: 'must look like `10/1m`, `5/15m` or `100/1m burst 10`' });
        return z.NEVER;
      }
      return { points, windowS, burst };
    })
    .describe(description);

const jsonObject = z.string().transform((text, ctx) => {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'must be a JSON object (a JWK)' });
  return z.NEVER;
});

const jsonArray = z.string().transform((text, ctx) => {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((item) => item && typeof item === 'object')) {
      return value as Record<string, unknown>[];
    }
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'must be a JSON array of JWK objects' });
  return z.NEVER;
});

const DEFAULT_CONTENT_TYPES = [
  'application/pdf',
  'text/plain',
  'text/csv',
  'text/markdown',
  'application/json',
  'application/rtf',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/zip',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/svg+xml',
  'image/tiff',
];

/** Credentials s3rver accepts; production must never run with them. */
export const EMBEDDED_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'])
    .default('development')
    .describe('`production` refuses embedded defaults and unsafe settings.'),
  HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Interface the API listens on (`0.0.0.0` in containers).'),
  PORT: int('Public HTTP port.', 3000, 0, 65535),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('External base URL; problem `type` URIs are built from it. Default `http://localhost:{PORT}`.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  SERVER_TIMING: boolText
    .optional()
    .describe(
      'Send `Server-Timing: total, db (query count)` on every response. Default: on in development only.',
    ),
  SLOW_REQUEST_MS: int('Requests slower than this log a warn line (3× this: an error line).', 500, 1),
  SLOW_QUERY_MS: int(
    'Queries slower than this log a warn line with their SQL text, never the parameters (0 logs every query).',
    100,
    0,
  ),
  // Telemetry (runbook/telemetry.md). The OTEL_* variables are the OpenTelemetry specification's own,
  // with its meanings; they are declared here so they are validated and listed in the runbook.
  METRICS_HOST: z
    .string()
    .min(1)
    .optional()
    .describe('Interface of the Prometheus metrics listener (`GET /metrics`). Default: HOST.'),
  METRICS_PORT: int(
    'Port of the metrics listener, never the public port; with WEB_CONCURRENCY > 1 the primary answers for all workers. 0 = any free port (logged).',
    9464,
    0,
    65535,
  ),
  METRICS_ENABLED: bool(
    'Record metrics and serve them on METRICS_PORT. `false`: no listener, and every instrument is a no-op.',
    true,
  ),
  OTEL_SDK_DISABLED: bool('`true` keeps tracing off even when an OTLP endpoint is set.', false),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'Turns tracing on: base URL of the OTLP/HTTP receiver (e.g. `http://otel-collector:4318`); spans go to `{endpoint}/v1/traces`. Unset: no tracing SDK is even loaded.',
    ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Full URL for spans, used as is (overrides the base endpoint); also turns tracing on.'),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .enum(['http/protobuf', 'http/json'])
    .default('http/protobuf')
    .describe('OTLP encoding (gRPC is not supported).'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z
    .enum(['http/protobuf', 'http/json'])
    .optional()
    .describe('OTLP encoding for spans only. Default: OTEL_EXPORTER_OTLP_PROTOCOL.'),
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .optional()
    .describe(
      'Headers on every export, `key=value,key2=value2` (values URL-encoded), e.g. a collector token.',
    ),
  OTEL_EXPORTER_OTLP_TIMEOUT: int('Time one export request may take (ms).', 10_000, 1),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_traceidratio')
    .describe(
      'Sampler. `parentbased_*` follows a trusted proxy’s `traceparent` decision and applies the rest to new traces.',
    ),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe('Share of new traces recorded by the `*traceidratio` samplers (0–1).'),
  OTEL_BSP_SCHEDULE_DELAY: int('Batch span processor: delay between two exports (ms).', 5000, 0),
  OTEL_BSP_EXPORT_TIMEOUT: int('Batch span processor: time one export may take (ms).', 30_000, 1),
  OTEL_BSP_MAX_QUEUE_SIZE: int('Batch span processor: spans buffered; past this they are dropped.', 2048, 1),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int('Batch span processor: spans per export request.', 512, 1),
  OTEL_SERVICE_NAME: z.string().min(1).default('stowage-api').describe('`service.name` of every span.'),
  OTEL_RESOURCE_ATTRIBUTES: z
    .string()
    .optional()
    .describe('More resource attributes, `key=value,…` (e.g. `deployment.environment.name=prod`).'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('.data')
    .describe('Where `pnpm dev` keeps embedded Postgres and S3 data between runs.'),

  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .describe(
      'Postgres connection URL. Unset: `pnpm dev` starts an embedded Postgres. Required in production.',
    ),
  DATABASE_POOL_MAX: int('Connections in the pool of each process.', 10, 1, 500),
  DATABASE_CONNECT_TIMEOUT_S: int('Seconds to wait for a new connection.', 5, 1, 120),
  DATABASE_IDLE_TIMEOUT_S: int('Seconds before an idle pooled connection is closed.', 30, 0, 3600),
  DATABASE_MAX_LIFETIME_S: int('Seconds before a pooled connection is replaced (0 = never).', 1800, 0, 86400),
  DATABASE_STATEMENT_TIMEOUT_MS: int(
    'Postgres `statement_timeout` of every API connection.',
    10_000,
    100,
    600_000,
  ),

  S3_ENDPOINT: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('S3-compatible endpoint. Unset: `pnpm dev` starts s3rver. Required in production.'),
  S3_REGION: z.string().min(1).default('us-east-1').describe('S3 region.'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
    .default('stowage')
    .describe('Bucket holding document bytes.'),
  S3_ACCESS_KEY_ID: z
    .string()
    .min(1)
    .default(EMBEDDED_S3_CREDENTIALS.accessKeyId)
    .describe('S3 access key id (the default only suits s3rver).'),
  S3_SECRET_ACCESS_KEY: z
    .string()
    .min(1)
    .default(EMBEDDED_S3_CREDENTIALS.secretAccessKey)
    .describe('S3 secret access key (the default only suits s3rver).'),
  S3_FORCE_PATH_STYLE: bool('Address buckets as `{endpoint}/{bucket}` (MinIO, s3rver, Ceph).', true),
  S3_TIMEOUT_MS: int('Timeout of one S3 request.', 30_000, 100, 600_000),

  JWT_SIGNING_KEY: jsonObject
    .optional()
    .describe(
      'Private JWK (EdDSA or ES256, with `kid`) that signs access tokens. Required in production; dev generates one under DATA_DIR.',
    ),
  JWT_VERIFY_KEYS: jsonArray
    .optional()
    .describe('JSON array of public JWKs still accepted for verification (key rotation).'),

  ACCESS_TOKEN_TTL_S: int('Lifetime of an access token (JWT).', 900, 60, 3600),
  REFRESH_TOKEN_TTL_S: int('Lifetime of a session and its refresh cookie.', 30 * 86_400, 3600, 365 * 86_400),
  SESSION_CACHE_TTL_S: int(
    'Seconds an instance may reuse a live session’s account lookup (0 = look up on every request). Revocations, disabling and role or tier changes evict it at once through a Postgres notification; the TTL only bounds a missed one (API.md allows a disabled account 1 minute).',
    30,
    0,
    60,
  ),
  BOOTSTRAP_ADMIN_EMAIL: z
    .email()
    .optional()
    .describe('With BOOTSTRAP_ADMIN_PASSWORD: an admin account created (or kept an admin) at start-up.'),
  BOOTSTRAP_ADMIN_PASSWORD: z
    .string()
    .min(12)
    .max(128)
    .optional()
    .describe('Password of the bootstrap admin when it is first created (12–128 characters).'),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/ })
    .optional()
    .describe(
      'SMTP server for mail (`smtps://user:pass@host:465`). Unset: mail is written to DATA_DIR/outbox/. Required in production.',
    ),
  MAIL_FROM: z
    .string()
    .min(3)
    .default('Stowage <no-reply@localhost>')
    .describe('From address of mail sent by the API.'),
  QUOTA_FREE_BYTES: int('Storage quota of the free tier.', 1024 ** 3, 0),
  QUOTA_PREMIUM_BYTES: int('Storage quota of the premium tier.', 100 * 1024 ** 3, 0),
  QUOTA_ENTERPRISE_BYTES: int('Storage quota of the enterprise tier.', 1024 ** 4, 0),
  MAX_UPLOAD_BYTES: int(
    'Largest document; larger uploads are cut off with 413 as soon as they pass it.',
    50 * 1024 ** 2,
    1,
  ),
  ALLOWED_CONTENT_TYPES: csv(
    'Content types a document may have (from the part header); `type/*` allows a family. Default: common document and image types.',
  ),
  SWEEP_INTERVAL_MS: int(
    'How often each instance removes upload leftovers (pending rows and their objects).',
    60_000,
    1000,
  ),
  PENDING_UPLOAD_TTL_S: int(
    'Age after which a pending upload counts as abandoned; keep it above REQUEST_TIMEOUT_MS.',
    3600,
    60,
  ),
  RUNTIME_MODE_POLL_MS: int(
    'How often each instance re-reads the runtime mode (applies within this time).',
    2000,
    100,
    5000,
  ),

  CORS_ORIGINS: csv(
    'Comma-separated browser origins allowed by CORS (with `Vary: Origin`); refresh and logout also accept them in `Origin`.',
  ).check(
    z.superRefine((origins, ctx) => {
      for (const origin of origins) {
        if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an origin (scheme://host[:port], no path)`,
          });
        }
      }
    }),
  ),
  CORS_CREDENTIALS: bool(
    'Send `Access-Control-Allow-Credentials` to CORS_ORIGINS (start-up refuses it with `*`).',
    false,
  ),
  TRUSTED_PROXIES: csv(
    'CIDRs of reverse proxies whose forwarded headers are believed (IPv4 and IPv6). Default: loopback and private ranges.',
  ).check(
    z.superRefine((cidrs, ctx) => {
      for (const cidr of cidrs) {
        if (!parseCidr(cidr)) ctx.addIssue({ code: 'custom', message: `"${cidr}" is not a CIDR` });
      }
    }),
  ),
  CLIENT_IP_HEADER: z
    .enum(['x-forwarded-for', 'forwarded'])
    .default('x-forwarded-for')
    .describe(
      'The header the trusted proxies write (`X-Forwarded-For` + `X-Forwarded-Proto`, or RFC 7239 `Forwarded`); the other is ignored.',
    ),
  HSTS_MAX_AGE_S: int(
    '`Strict-Transport-Security` max-age on requests that arrived over TLS (0 = no header).',
    31_536_000,
    0,
  ),

  RATE_LIMIT_ENABLED: bool('Apply the rate-limit policies (turn off only for benchmarks).', true),
  RATE_LIMIT_LOGIN: rate('`login` policy: login, refresh and logout per client IP.', '10/1m'),
  RATE_LIMIT_LOGIN_FAILURES: rate(
    '`login_failures` policy: failed logins per normalised email before the lock-out.',
    '5/15m',
  ),
  LOGIN_LOCKOUT_S: int('How long an email stays locked after too many failed logins.', 900, 1),
  RATE_LIMIT_AUTH_FAILURES: rate(
    '`auth_failures` policy: requests with an invalid token or API key per client IP, after which the address is refused for the rest of the window.',
    '60/1m',
  ),
  RATE_LIMIT_REGISTER: rate('`register` policy: registrations per client IP.', '10/1h'),
  RATE_LIMIT_PASSWORD_RESET: rate(
    '`password_reset` policy: reset requests and confirmations per client IP.',
    '5/1h',
  ),
  RATE_LIMIT_ACCOUNT: rate('`account` policy: requests per user with a session (JWT).', '100/1m'),
  RATE_LIMIT_API_KEY_FREE: rate('`api_key` policy, free tier: requests per API key.', '100/1m burst 10'),
  RATE_LIMIT_API_KEY_PREMIUM: rate('`api_key` policy, premium tier.', '1000/1m burst 50'),
  RATE_LIMIT_API_KEY_ENTERPRISE: rate('`api_key` policy, enterprise tier.', '10000/1m burst 200'),
  RATE_LIMIT_POOL_MAX: int(
    'Connections of the limiter’s own pool (its writes skip the WAL flush wait).',
    4,
    1,
    100,
  ),

  MAX_JSON_BODY_BYTES: int('Largest JSON request body; larger ones get 413.', 1024 * 1024, 1024),
  HEADERS_TIMEOUT_MS: int('Node `headersTimeout`: time to receive request headers.', 20_000, 1000),
  REQUEST_TIMEOUT_MS: int(
    'Node `requestTimeout`: time to receive a whole request, uploads included.',
    300_000,
    1000,
  ),
  KEEP_ALIVE_TIMEOUT_MS: int(
    'Idle keep-alive timeout; keep it above the load balancer idle timeout (e.g. 60 s on AWS ALB).',
    65_000,
    1000,
  ),
  HANDLER_TIMEOUT_MS: int(
    'A request whose handler has not answered within this time gets 504 (uploads excepted: REQUEST_TIMEOUT_MS bounds them).',
    30_000,
    100,
  ),
  MAX_IN_FLIGHT: int(
    'Requests one process serves at once; beyond that an immediate 503 `overloaded` with `Retry-After` (health probes excepted).',
    512,
    1,
  ),
  WEB_CONCURRENCY: int(
    'Worker processes (node:cluster) sharing the port. 1 = a single process, the right default in containers: scale with replicas, and raise it only on a VM or a container given several CPUs (about one per core).',
    1,
    1,
    64,
  ),
  MAX_REQUESTS_PER_WORKER: int(
    'With WEB_CONCURRENCY > 1: a worker is replaced after about this many requests (±10 % jitter), its replacement listening before it drains (0 = never).',
    0,
    0,
  ),
  SHUTDOWN_DELAY_MS: int(
    'After SIGTERM, keep accepting while /readyz answers 503 so the load balancer stops routing here first.',
    0,
    0,
    120_000,
  ),
  SHUTDOWN_TIMEOUT_MS: int(
    'After SIGTERM, how long in-flight requests may run before connections are cut. Keep below the orchestrator grace period.',
    25_000,
    100,
    600_000,
  ),
});

export type Env = z.input<typeof envSchema>;

// Policy checks run even when some variables failed to parse, so one start-up lists every problem; the
// values they read may then still be raw strings, hence the strict comparisons.
const configSchema = envSchema
  .superRefine(
    (env, ctx) => {
      const fail = (variable: keyof typeof env, message: string) =>
        ctx.addIssue({ code: 'custom', path: [variable], message });
      const origins: unknown[] = Array.isArray(env.CORS_ORIGINS) ? env.CORS_ORIGINS : [];
      if (env.CORS_CREDENTIALS === true && origins.includes('*')) {
        fail('CORS_ORIGINS', '`*` cannot be combined with CORS_CREDENTIALS=true; list the origins');
      }
      if (Boolean(env.BOOTSTRAP_ADMIN_EMAIL) !== Boolean(env.BOOTSTRAP_ADMIN_PASSWORD)) {
        fail('BOOTSTRAP_ADMIN_PASSWORD', 'BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD go together');
      }
      if (env.NODE_ENV !== 'production') return;
      if (!env.DATABASE_URL)
        fail('DATABASE_URL', 'is required in production (embedded Postgres is for dev only)');
      if (!env.S3_ENDPOINT) fail('S3_ENDPOINT', 'is required in production (s3rver is for dev only)');
      if (env.S3_ACCESS_KEY_ID === EMBEDDED_S3_CREDENTIALS.accessKeyId) {
        fail('S3_ACCESS_KEY_ID', 'must be set in production (the default is the embedded store’s)');
      }
      if (env.S3_SECRET_ACCESS_KEY === EMBEDDED_S3_CREDENTIALS.secretAccessKey) {
        fail('S3_SECRET_ACCESS_KEY', 'must be set in production (the default is the embedded store’s)');
      }
      if (!env.JWT_SIGNING_KEY) fail('JWT_SIGNING_KEY', 'is required in production');
      if (!env.PUBLIC_URL) fail('PUBLIC_URL', 'is required in production');
      if (!env.SMTP_URL) fail('SMTP_URL', 'is required in production (the outbox is for dev only)');
      if (origins.includes('*')) fail('CORS_ORIGINS', '`*` is not allowed in production');
    },
    { when: () => true },
  )
  .transform((env) => ({
    env: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    host: env.HOST,
    port: env.PORT,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL,
    observability: {
      serverTiming: env.SERVER_TIMING ?? env.NODE_ENV === 'development',
      slowRequestMs: env.SLOW_REQUEST_MS,
      slowQueryMs: env.SLOW_QUERY_MS,
    },
    telemetry: {
      metrics: { enabled: env.METRICS_ENABLED, host: env.METRICS_HOST ?? env.HOST, port: env.METRICS_PORT },
      tracing: {
        enabled:
          !env.OTEL_SDK_DISABLED &&
          Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
        url:
          env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
          (env.OTEL_EXPORTER_OTLP_ENDPOINT
            ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`
            : undefined),
        protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL,
        headers: env.OTEL_EXPORTER_OTLP_HEADERS,
        timeoutMs: env.OTEL_EXPORTER_OTLP_TIMEOUT,
        sampler: env.OTEL_TRACES_SAMPLER,
        samplerRatio: env.OTEL_TRACES_SAMPLER_ARG,
        batch: {
          scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
          exportTimeoutMillis: env.OTEL_BSP_EXPORT_TIMEOUT,
          maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE,
          maxExportBatchSize: Math.min(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, env.OTEL_BSP_MAX_QUEUE_SIZE),
        },
        serviceName: env.OTEL_SERVICE_NAME,
        resourceAttributes: env.OTEL_RESOURCE_ATTRIBUTES,
      },
    },
    dataDir: env.DATA_DIR,
    database: {
      url: env.DATABASE_URL,
      poolMax: env.DATABASE_POOL_MAX,
      connectTimeoutS: env.DATABASE_CONNECT_TIMEOUT_S,
      idleTimeoutS: env.DATABASE_IDLE_TIMEOUT_S,
      maxLifetimeS: env.DATABASE_MAX_LIFETIME_S,
      statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    s3: {
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION,
      bucket: env.S3_BUCKET,
      accessKeyId: env.S3_ACCESS_KEY_ID,
      secretAccessKey: env.S3_SECRET_ACCESS_KEY,
      forcePathStyle: env.S3_FORCE_PATH_STYLE,
      timeoutMs: env.S3_TIMEOUT_MS,
    },
    auth: {
      signingKey: env.JWT_SIGNING_KEY,
      verifyKeys: env.JWT_VERIFY_KEYS ?? [],
      accessTokenTtlS: env.ACCESS_TOKEN_TTL_S,
      refreshTokenTtlS: env.REFRESH_TOKEN_TTL_S,
      sessionCacheTtlS: env.SESSION_CACHE_TTL_S,
      bootstrapAdmin:
        env.BOOTSTRAP_ADMIN_EMAIL && env.BOOTSTRAP_ADMIN_PASSWORD
          ? { email: env.BOOTSTRAP_ADMIN_EMAIL, password: env.BOOTSTRAP_ADMIN_PASSWORD }
          : undefined,
    },
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    quotas: {
      free: env.QUOTA_FREE_BYTES,
      premium: env.QUOTA_PREMIUM_BYTES,
      enterprise: env.QUOTA_ENTERPRISE_BYTES,
    },
    runtimeModePollMs: env.RUNTIME_MODE_POLL_MS,
    documents: {
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      allowedContentTypes: env.ALLOWED_CONTENT_TYPES.length
        ? env.ALLOWED_CONTENT_TYPES
        : DEFAULT_CONTENT_TYPES,
      sweepIntervalMs: env.SWEEP_INTERVAL_MS,
      pendingTtlS: env.PENDING_UPLOAD_TTL_S,
    },
    cors: { origins: env.CORS_ORIGINS, credentials: env.CORS_CREDENTIALS },
    proxies: {
      trusted: env.TRUSTED_PROXIES.length ? env.TRUSTED_PROXIES : DEFAULT_TRUSTED_PROXIES,
      header: env.CLIENT_IP_HEADER,
    },
    hstsMaxAgeS: env.HSTS_MAX_AGE_S,
    rateLimits: {
      enabled: env.RATE_LIMIT_ENABLED,
      poolMax: env.RATE_LIMIT_POOL_MAX,
      login: env.RATE_LIMIT_LOGIN,
      loginFailures: { ...env.RATE_LIMIT_LOGIN_FAILURES, lockoutS: env.LOGIN_LOCKOUT_S },
      authFailures: env.RATE_LIMIT_AUTH_FAILURES,
      register: env.RATE_LIMIT_REGISTER,
      passwordReset: env.RATE_LIMIT_PASSWORD_RESET,
      account: env.RATE_LIMIT_ACCOUNT,
      apiKey: {
        free: env.RATE_LIMIT_API_KEY_FREE,
        premium: env.RATE_LIMIT_API_KEY_PREMIUM,
        enterprise: env.RATE_LIMIT_API_KEY_ENTERPRISE,
      },
    },
    process: {
      webConcurrency: env.WEB_CONCURRENCY,
      maxRequestsPerWorker: env.MAX_REQUESTS_PER_WORKER,
    },
    http: {
      maxJsonBodyBytes: env.MAX_JSON_BODY_BYTES,
      headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
      handlerTimeoutMs: env.HANDLER_TIMEOUT_MS,
      maxInFlight: env.MAX_IN_FLIGHT,
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    },
  }));

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses the environment; throws a ConfigError naming every invalid variable at once. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(envSchema.shape).map((name) => [name, source[name] === '' ? undefined : source[name]]),
  );
  const result = configSchema.safeParse(known);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
}
