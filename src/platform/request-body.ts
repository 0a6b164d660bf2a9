import type { Socket } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';

const hasBody = (c: { req: { header(name: string): string | undefined } }) => {
  const length = c.req.header('content-length');
  return (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
};

/**
 * A compressed request body is refused on every route rather than read as if plain (the JSON routes
 * would otherwise fail on bytes that are not JSON, and uploads would store the compressed bytes under
 * the declared type). Only `identity` is accepted.
 */
export const requireIdentityEncoding = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const encoding = c.req.header('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity' && hasBody(c)) {
    throw new AppError('unsupported_media_type', {
      detail: `Request bodies with Content-Encoding "${encoding.slice(0, 40)}" are not accepted: send the body uncompressed (no Content-Encoding, or identity)`,
      headers: { 'Accept-Encoding': 'identity' },
    });
  }
  await next();
};

/**
 * An answer given before the request body was read to its end (a 413, 401, 429 or 415 that refused it
 * early) says `Connection: close`: the server cannot keep this connection for the next request without
 * reading the rest first, and @hono/node-server only drains a bounded amount before closing. Without it
 * a pooled client would send its next request on a connection about to close.
 */
export const closeWhenBodyUnread = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  const incoming = c.env?.incoming;
  if (incoming && !incoming.complete && hasBody(c)) {
    c.res.headers.set('Connection', 'close');
    lingerOnClose(incoming.socket);
  }
};

const LINGER_MS = 2000;

/**
 * After a `Connection: close` answer Node closes the socket as soon as the answer is written; body bytes
 * still arriving then make the kernel reset the connection, and a client that is still sending may lose
 * the answer (node:http's does). This socket instead half-closes and keeps reading (the request is being
 * discarded) until the client closes too, for at most LINGER_MS: a "lingering close".
 */
function lingerOnClose(socket: Socket | null | undefined) {
  if (!socket) return;
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}
