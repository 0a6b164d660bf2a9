// The request seam: one SERVER span per request (when tracing runs) and the HTTP server metrics.
import { context, ROOT_CONTEXT, SpanStatusCode, type TextMapGetter, trace } from '@opentelemetry/api';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from '../platform/app-env.ts';
import { isTrustedPeer, type TrustedProxies } from '../platform/client-ip.ts';
import { AppError } from '../platform/problem.ts';
import { httpServerActiveRequests, httpServerDuration, UNMATCHED_ROUTE } from './metrics.ts';
import { propagator, type Span, startServerSpan, tracingEnabled } from './tracing.ts';

/** The matched route template, or `unmatched`: a raw path would make one series (or span name) per URL. */
export function routeLabel(c: Context): string {
  const matched = routePath(c, -1);
  return matched === '/*' || matched === '*' || matched === '' ? UNMATCHED_ROUTE : matched;
}

// Node's parser accepts ~30 methods; the semantic conventions keep the common ones and fold the rest.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
const methodLabel = (method: string) => (METHODS.has(method) ? method : '_OTHER');

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * Metrics for every request; with tracing on, a SERVER span around the rest of the chain, so every
 * log line (the access line included), query and S3 call of the request belongs to it. A `traceparent`
 * continues its trace only when the socket peer is a trusted proxy; anyone else starts a new trace.
 */
export function requestTelemetry(proxies: TrustedProxies): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const method = methodLabel(c.req.method);
    httpServerActiveRequests.inc();
    let span: Span | undefined;
    try {
      if (tracingEnabled()) {
        const peer = c.env?.incoming?.socket?.remoteAddress;
        const parent =
          peer && c.req.header('traceparent') !== undefined && isTrustedPeer(proxies, peer)
            ? (propagator()?.extract(ROOT_CONTEXT, c.req.raw.headers, headerGetter) ?? ROOT_CONTEXT)
            : ROOT_CONTEXT;
        span = startServerSpan(
          method,
          { 'http.request.method': method, 'stowage.request_id': c.get('requestId') },
          parent,
        );
      }
      if (span) await context.with(trace.setSpan(ROOT_CONTEXT, span), next);
      else await next();
    } finally {
      httpServerActiveRequests.dec();
      const route = routeLabel(c);
      const status = c.res.status;
      httpServerDuration.observe(
        { http_request_method: method, http_route: route, http_response_status_code: status },
        (performance.now() - started) / 1000,
      );
      if (span) endServerSpan(c, span, route, status);
    }
  };
}

function endServerSpan(c: Context<AppEnv>, span: Span, route: string, status: number) {
  const matched = route !== UNMATCHED_ROUTE;
  if (matched) span.updateName(`${methodLabel(c.req.method)} ${route}`);
  span.setAttributes({
    'http.response.status_code': status,
    'url.scheme': c.get('tls') ? 'https' : 'http',
    ...(matched ? { 'http.route': route, 'url.path': c.req.path } : {}),
    ...(c.get('clientIp') ? { 'client.address': c.get('clientIp') } : {}),
  });
  if (status >= 500) {
    const error = c.error;
    span.setAttribute(
      'error.type',
      error instanceof AppError ? error.code : error ? error.name || 'Error' : String(status),
    );
    // The failure (or the dependency's, behind a 503) is on the span with its type, message and stack;
    // the response body reveals none of it.
    const cause = error instanceof AppError ? error.cause : error;
    if (cause instanceof Error) span.recordException(cause);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
