import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from './problem.ts';

/** The API's JSON answers load nothing and may be framed by nobody. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

const STATIC_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Permissions-Policy':
    'accelerometer=(), camera=(), geolocation=(), gyroscope=(), microphone=(), payment=(), usb=()',
};

/**
 * Set explicitly rather than through hono/secure-headers, whose defaults differ from the contract
 * (SAMEORIGIN framing, HSTS on plain HTTP, no CSP). A route that serves a page sets its own CSP first.
 */
export const securityHeaders = (): MiddlewareHandler => async (c, next) => {
  await next();
  const headers = c.res.headers;
  for (const [name, value] of Object.entries(STATIC_HEADERS)) headers.set(name, value);
  if (!headers.has('Content-Security-Policy')) headers.set('Content-Security-Policy', API_CSP);
  headers.delete('X-Powered-By');
};

const STREAMED_BODY = /^multipart\/form-data/i;

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
  return async (c, next) =>
    STREAMED_BODY.test(c.req.header('content-type') ?? '') ? next() : limit(c, next);
};
