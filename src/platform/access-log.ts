import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from './app-env.ts';
import type { Logger } from './logger.ts';

// Probes hit every few seconds per instance; at info level they would drown the useful lines.
const QUIET_ROUTES = new Set(['/livez', '/readyz', '/startupz']);

/** One line per request, written when it ends; the route template keeps the field's cardinality bounded. */
export const accessLog =
  (logger: Logger): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = routePath(c, -1);
      const route = matched === '/*' || matched === '*' || matched === '' ? 'unmatched' : matched;
      const status = c.res.status;
      const line = {
        method: c.req.method,
        route,
        status,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        bytes: Number(c.res.headers.get('content-length')) || undefined,
        client_ip: c.var.clientIp,
        user_id: c.var.principal?.userId,
      };
      const level = status >= 500 ? 'error' : QUIET_ROUTES.has(route) ? 'debug' : 'info';
      logger[level](line, 'request');
    }
  };
