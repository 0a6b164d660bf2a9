import type { MiddlewareHandler } from 'hono';
import { httpShedRequests } from '../telemetry/metrics.ts';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';

// Probes must answer even at capacity: an orchestrator restarting a busy instance makes things worse.
const EXEMPT = new Set(['/livez', '/readyz', '/startupz']);

/**
 * At most `max` requests in flight in this process; beyond that an immediate 503 `overloaded`. Answering
 * at once beats queueing: a queue only adds latency to requests whose clients will time out anyway. A
 * request counts until its response has been written out, streamed downloads included.
 */
export function loadShedding(max: number) {
  let inFlight = 0;
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (EXEMPT.has(c.req.path)) return next();
    if (inFlight >= max) {
      httpShedRequests.inc();
      throw new AppError('overloaded', {
        detail: `This instance is serving its maximum of ${max} requests`,
        headers: { 'Retry-After': '1' },
      });
    }
    inFlight++;
    const outgoing = c.env?.outgoing;
    let released = false;
    const release = () => {
      if (!released) inFlight--;
      released = true;
    };
    if (outgoing) outgoing.once('close', release);
    try {
      await next();
    } finally {
      if (!outgoing) release();
    }
  };
  return middleware;
}
