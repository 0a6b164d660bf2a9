import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';

// Uploads stream for as long as the body takes; Node's requestTimeout bounds them instead.
const STREAMED_BODY = /^multipart\/form-data/i;

/**
 * Answers 504 `timeout` when a handler has not produced its response within `ms`. Racing `next()` does not
 * stop the handler (PITFALLS), so `c.var.signal` aborts at the same moment, and when the client goes away:
 * work that takes the signal (S3 calls, cancellable queries) stops; queries are bounded by the
 * statement timeout in any case.
 */
export const handlerTimeout =
  (ms: number): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, c.req.raw.signal]);
    c.set('signal', signal);
    if (STREAMED_BODY.test(c.req.header('content-type') ?? '')) return next();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const reason = new AppError('timeout', { detail: `No response within ${ms} ms` });
        reject(reason); // first, so the race settles with the 504 rather than the handler's AbortError
        controller.abort(reason);
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
