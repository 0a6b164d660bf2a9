import type { HttpBindings } from '@hono/node-server';
import type { Services } from '../services.ts';

/** Who is calling: a user through a session (JWT) or through one of their API keys. */
export type Principal = {
  userId: string;
  role: 'user' | 'admin';
  via: 'session' | 'api_key';
  sessionId?: string;
  apiKeyId?: string;
};

/** The Hono environment every route and middleware of the API shares. */
export type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    clientIp: string;
    services: Services;
    principal?: Principal;
  };
};
