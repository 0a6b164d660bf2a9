import type { MiddlewareHandler } from 'hono';
import { httpHandlerTimeouts } from '../telemetry/metrics.ts';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';
import { isStreamedUpload } from './security.ts';

/**
 * Answers 504 `timeout` when a handler has not produced its response within `ms`. Racing `next()` does not
 * stop the handler (PITFALLS), so `c.get('signal')` aborts at the same moment, and when the client goes away:
 * work that takes the signal (S3 calls, cancellable queries) stops; queries are bounded by the
 * statement timeout in any case. Uploads are exempt: Node's requestTimeout bounds them.
 */
export const handlerTimeout =
  (ms: number): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const controller = new AbortController();
    c.set('signal', controller.signal);
    // One listener on the response instead of AbortSignal.any() over the request's own signal: this
    // runs on every request. The response closing before it finished means the client went away.
    const outgoing = c.env?.outgoing;
    if (outgoing) {
      outgoing.once('close', () => {
        if (!outgoing.writableFinished)
          controller.abort(new AppError('bad_request', { detail: 'The client went away' }));
      });
    } else {
      c.req.raw.signal.addEventListener('abort', () => controller.abort(c.req.raw.signal.reason), {
        once: true,
      });
    }
    if (isStreamedUpload(c)) return next();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const reason = new AppError('timeout', { detail: `No response within ${ms} ms` });
        httpHandlerTimeouts.inc();
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
