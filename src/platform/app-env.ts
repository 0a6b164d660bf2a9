import type { HttpBindings } from '@hono/node-server';
import type { Services } from '../services.ts';
import type { Tier } from './rate-limit/rate-limits.ts';

/** Who is calling: a user through a session (JWT) or through one of their API keys. */
export type Principal = {
  userId: string;
  role: 'user' | 'admin';
  via: 'session' | 'api_key';
  sessionId?: string;
  apiKeyId?: string;
  /** The account's tier: it picks the API-key rate-limit policy. */
  tier: Tier;
};

/**
 * The Hono environment every route and middleware of the API shares. Read variables with `c.get(name)`:
 * Hono's `c.var` builds a fresh object of every variable on each access, which on the request path
 * showed up in profiles as its own line.
 */
export type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    clientIp: string;
    /** The request reached us over TLS, directly or as a trusted proxy states. */
    tls: boolean;
    /** Aborts when the handler timeout expires or the client disconnects; pass it to cancellable work. */
    signal: AbortSignal;
    services: Services;
    principal?: Principal;
  };
};

/** What a helper needs of a context to read the request's variables. */
export type VariablesOf = { get: <K extends keyof AppEnv['Variables']>(key: K) => AppEnv['Variables'][K] };
