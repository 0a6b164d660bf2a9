import type { MiddlewareHandler } from 'hono';
import ipaddr from 'ipaddr.js';
import { rateLimitDecisions } from '../../telemetry/metrics.ts';
import { failSpan, SpanKind, startSpan } from '../../telemetry/tracing.ts';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../problem.ts';
import { currentRequest } from '../request-context.ts';
import { type Decision, type PolicyName, rateLimitHeaders } from './rate-limits.ts';

/**
 * The address a client-IP policy counts. An IPv6 client usually holds a whole /64 and could rotate
 * through it, so every address of a /64 shares one bucket; IPv4 counts per address.
 */
export function clientKey(ip: string): string {
  if (!ipaddr.IPv6.isValid(ip)) return ip;
  const parts = ipaddr.IPv6.parse(ip).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(':')}::/64`;
}

/** `principal`: `account` for a session, `api_key` (by the account's tier) for an API key. */
export type RoutePolicy = Exclude<PolicyName, 'account' | 'api_key'> | 'principal';

/** The middleware carries its policy so `defineRoute` can document the headers and the 429. */
export type RateLimitMiddleware = MiddlewareHandler<AppEnv> & { rateLimitPolicy: RoutePolicy };

export const isRateLimit = (middleware: unknown): middleware is RateLimitMiddleware =>
  typeof middleware === 'function' && 'rateLimitPolicy' in middleware;

/**
 * Counts the request against the route's policy: by client IP before authentication, by user or API key
 * after it. Every answer of the route carries the rate-limit headers; over the limit it is a 429.
 */
export function rateLimit(policy: RoutePolicy): RateLimitMiddleware {
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const limits = c.get('services').rateLimits;
    if (!limits.enabled) return next();
    const principal = c.get('principal');
    if (policy === 'principal' && !principal) throw new Error('rateLimit("principal") before requireUser()');
    const started = performance.now();
    const name = policy !== 'principal' ? policy : principal!.via === 'api_key' ? 'api_key' : 'account';
    // A leaf span (the limiter's own pool is not traced), so it is not made the active one.
    const span = startSpan(`ratelimit ${name}`, { 'stowage.ratelimit.policy': name }, SpanKind.INTERNAL);
    let decision: Decision;
    try {
      decision =
        policy !== 'principal'
          ? await limits.consume(policy, clientKey(c.get('clientIp')))
          : principal!.via === 'api_key'
            ? await limits.consume('api_key', principal!.apiKeyId!, principal!.tier)
            : await limits.consume('account', principal!.userId);
      span?.setAttribute('stowage.ratelimit.outcome', decision.allowed ? 'allowed' : 'rejected');
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span?.end();
    }
    rateLimitDecisions.inc({ policy: name, outcome: decision.allowed ? 'allowed' : 'rejected' });
    const request = currentRequest();
    if (request) request.rateLimitMs += performance.now() - started;
    const headers = rateLimitHeaders(decision.windows, !decision.allowed);
    if (!decision.allowed) {
      const refused = decision.windows.find((w) => w.remaining === 0) ?? decision.windows[0]!;
      throw new AppError('rate_limited', {
        detail: `Rate limit "${refused.policy}" reached (${refused.limit} per ${refused.windowS} s); retry in ${headers['Retry-After']} s`,
        headers,
      });
    }
    await next();
    const inner = c.res.headers.get('RateLimit-Policy');
    if (inner) {
      // A policy applied further in (the login lock-out) answered: list both, keep its figures.
      c.res.headers.set('RateLimit-Policy', `${headers['RateLimit-Policy']}, ${inner}`);
      c.res.headers.set('RateLimit', `${headers.RateLimit}, ${c.res.headers.get('RateLimit')}`);
      return;
    }
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
  return Object.assign(middleware, { rateLimitPolicy: policy });
}
