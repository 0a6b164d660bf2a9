import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

// Only the socket peer for now; trusted-proxy resolution of X-Forwarded-For plugs in here.
const normalise = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address);

export const clientIp = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const remote = c.env?.incoming?.socket?.remoteAddress;
  c.set('clientIp', remote ? normalise(remote) : 'unknown');
  await next();
};
