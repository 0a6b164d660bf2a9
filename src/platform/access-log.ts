import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from './app-env.ts';
import { toPublicId } from './ids.ts';
import { type Logger, unredactedLogger } from './logger.ts';
import { currentRequest } from './request-context.ts';

// Probes hit every few seconds per instance; at info level they would drown the useful lines.
const QUIET_ROUTES = new Set(['/livez', '/readyz', '/startupz']);

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The policy a 429 names as exhausted (`"login";r=0;t=42` in its RateLimit header). */
const refusedPolicy = (header: string | null) => (header ? /"([^"]+)";r=0\b/.exec(header)?.[1] : undefined);

/**
 * One line per request, written when it ends; the route template keeps the field's cardinality bounded.
 * A slow request adds a warn line (an error line past 3× the threshold) that alerting can key on, and
 * `Server-Timing` tells the client where the time went when enabled.
 */
export const accessLog = (
  logger: Logger,
  options: { slowRequestMs: number; serverTiming: boolean },
): MiddlewareHandler<AppEnv> => {
  // Access lines carry no headers, bodies or secrets, only the fields below.
  const log = unredactedLogger(logger);
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = routePath(c, -1);
      const route = matched === '/*' || matched === '*' || matched === '' ? 'unmatched' : matched;
      const status = c.res.status;
      const durationMs = performance.now() - started;
      const request = currentRequest();
      const db = request?.db ?? { queries: 0, ms: 0 };
      const rateLimitMs = request?.rateLimitMs ?? 0;
      const principal = c.get('principal');
      if (options.serverTiming) {
        c.res.headers.set(
          'Server-Timing',
          `total;dur=${round(durationMs)}, db;dur=${round(db.ms)};desc="${db.queries} queries"` +
            (rateLimitMs ? `, ratelimit;dur=${round(rateLimitMs)}` : ''),
        );
      }
      const line = {
        method: c.req.method,
        route,
        status,
        duration_ms: round(durationMs),
        db_queries: db.queries,
        db_ms: round(db.ms),
        ratelimit_ms: rateLimitMs ? round(rateLimitMs) : undefined,
        bytes: Number(c.res.headers.get('content-length')) || undefined,
        client_ip: c.get('clientIp'),
        // The ids customers quote (`usr_…`, `key_…`), so a support ticket greps straight to its lines.
        user_id: principal ? toPublicId('usr', principal.userId) : undefined,
        api_key_id: principal?.apiKeyId ? toPublicId('key', principal.apiKeyId) : undefined,
        ratelimit_policy: status === 429 ? refusedPolicy(c.res.headers.get('RateLimit')) : undefined,
      };
      const level = status >= 500 ? 'error' : QUIET_ROUTES.has(route) ? 'debug' : 'info';
      log[level](line, 'request');
      if (durationMs > options.slowRequestMs) {
        const slowLevel = durationMs > 3 * options.slowRequestMs ? 'error' : 'warn';
        log[slowLevel]({ ...line, threshold_ms: options.slowRequestMs }, 'slow request');
      }
    }
  };
};
