import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';

/** The API's JSON answers load nothing and may be framed by nobody. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export const STATIC_HEADERS = Object.entries({
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Permissions-Policy':
    'accelerometer=(), camera=(), geolocation=(), gyroscope=(), microphone=(), payment=(), usb=()',
});

/**
 * Set explicitly rather than through hono/secure-headers, whose defaults differ from the contract
 * (SAMEORIGIN framing, HSTS on plain HTTP, no CSP). A route that serves a page sets its own CSP first.
 */
export const securityHeaders =
  (options: { hstsMaxAgeS: number }): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    await next();
    const headers = c.res.headers;
    for (const [name, value] of STATIC_HEADERS) headers.set(name, value);
    if (!headers.has('Content-Security-Policy')) headers.set('Content-Security-Policy', API_CSP);
    headers.delete('X-Powered-By');
    // Over plain HTTP the header means nothing to browsers and only misleads; clientIp() decides `tls`.
    if (c.get('tls') && options.hstsMaxAgeS > 0) {
      headers.set('Strict-Transport-Security', `max-age=${options.hstsMaxAgeS}; includeSubDomains`);
    }
  };

/** Headers a browser client may read besides the CORS-safelisted ones (API.md). */
const EXPOSED_HEADERS = [
  'X-Request-ID',
  'RateLimit',
  'RateLimit-Policy',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'ETag',
  'Location',
  'Deprecation',
  'Sunset',
  'Link',
  'Idempotent-Replayed',
  'Content-Disposition',
];

/** CORS for the listed origins only (never a reflected `*`); `Vary: Origin` on every answer. */
export function corsPolicy(options: { origins: string[]; credentials: boolean }): MiddlewareHandler {
  const allowed = new Set(options.origins);
  const wildcard = allowed.has('*');
  const handler = cors({
    origin: (origin) => (wildcard ? '*' : allowed.has(origin) ? origin : null),
    credentials: options.credentials,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: [
      'Authorization',
      'Content-Type',
      'Idempotency-Key',
      'If-Match',
      'If-None-Match',
      'Range',
      'X-Request-ID',
    ],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  return async (c, next) => {
    // No Origin, no CORS: skipping hono/cors for non-browser callers also spares it reading `c.res`
    // early, which costs every such request two extra Response objects.
    if (c.req.header('origin') === undefined) await next();
    else {
      const preflight = await handler(c, next);
      if (preflight) c.res = preflight;
    }
    const vary = c.res.headers.get('Vary') ?? '';
    if (!/(^|,)\s*origin\s*(,|$)/i.test(vary)) c.res.headers.append('Vary', 'Origin');
  };
}

/** Multipart uploads stream for as long as their body takes; JSON-sized limits do not apply to them. */
export const isStreamedUpload = (c: Context) =>
  /^multipart\/form-data/i.test(c.req.header('content-type') ?? '');

/**
 * Caps JSON and other small bodies. hono/body-limit buffers what it reads, so multipart uploads are left
 * to the upload route, which counts bytes as they stream.
 */
export const jsonBodyLimit = (maxBytes: number): MiddlewareHandler => {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError('payload_too_large', { detail: `The body exceeds ${maxBytes} bytes` });
    },
  });
  return async (c, next) => {
    // Without a body there is nothing to count; asking hono/body-limit would build a full Request.
    const hasBody =
      c.req.header('content-length') !== undefined || c.req.header('transfer-encoding') !== undefined;
    return !hasBody || isStreamedUpload(c) ? next() : limit(c, next);
  };
};
