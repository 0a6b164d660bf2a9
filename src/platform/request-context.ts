import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/** What every log line and error body of one request can reach without passing it around. */
export type RequestContext = {
  requestId: string;
  /** Database work done for this request so far (Server-Timing, the access log). */
  db: { queries: number; ms: number };
  /** Time spent on rate-limit decisions (its own pool, so not in `db`). */
  rateLimitMs: number;
};

const storage = new AsyncLocalStorage<RequestContext>();

export const currentRequest = (): RequestContext | undefined => storage.getStore();

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a well-formed client `X-Request-ID` (API.md's rule, stricter than hono/request-id), else makes one. */
export const requestIdFrom = (header: string | undefined): string =>
  header !== undefined && CLIENT_REQUEST_ID.test(header) ? header : randomUUID();

export const requestContext = (): MiddlewareHandler => async (c, next) => {
  const requestId = requestIdFrom(c.req.header('x-request-id'));
  c.set('requestId', requestId);
  c.header('X-Request-ID', requestId);
  await storage.run({ requestId, db: { queries: 0, ms: 0 }, rateLimitMs: 0 }, next);
  // A handler may have replaced the response object; the id must survive that.
  c.res.headers.set('X-Request-ID', requestId);
};
