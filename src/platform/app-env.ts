import type { HttpBindings } from '@hono/node-server';

/** The Hono environment every route and middleware of the API shares. */
export type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    clientIp: string;
  };
};
