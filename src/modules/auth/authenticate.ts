import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, Principal } from '../../platform/app-env.ts';
import { AppError } from '../../platform/problem.ts';
import { clientKey, rateLimit } from '../../platform/rate-limit/rate-limit.middleware.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="stowage"' };

export type Requirement = {
  /** Only an admin may call. */
  admin?: boolean;
  /** Only a session (not an API key) may call: managing keys and the password. */
  sessionOnly?: boolean;
};

/**
 * `Authorization: Bearer <access token | sk_ API key>` → the principal. Every request re-checks the
 * session (or key) and the account, so logout, revocation and disabling apply at once on every instance.
 */
async function identify(c: Context<AppEnv>): Promise<Principal> {
  const header = c.req.header('authorization');
  if (!header)
    throw new AppError('unauthenticated', {
      detail: 'Send Authorization: Bearer <token>',
      headers: CHALLENGE,
    });
  const match = /^Bearer ([\x21-\x7e]{1,2048})$/i.exec(header);
  if (!match)
    throw new AppError('unauthenticated', { detail: 'Expected a Bearer token', headers: CHALLENGE });
  const token = match[1]!;
  const { tokens, sessions, apiKeys, users } = c.var.services;

  let principal: Omit<Principal, 'role' | 'tier'>;
  if (token.startsWith('sk_')) {
    const key = await apiKeys.authenticate(token);
    principal = { userId: key.userId, via: 'api_key', apiKeyId: key.keyId };
  } else {
    const claims = await tokens.verify(token);
    principal = { userId: claims.userId, via: 'session', sessionId: claims.sessionId };
  }
  // Both lookups at once (one round trip of latency); the account is judged first, so a disabled user
  // hears why (their sessions are revoked as well).
  const [user, sessionActive] = await Promise.all([
    users.findById(principal.userId),
    principal.sessionId ? sessions.isActive(principal.sessionId, principal.userId) : true,
  ]);
  if (!user)
    throw new AppError('unauthenticated', { detail: 'The account no longer exists', headers: CHALLENGE });
  if (user.disabledAt) throw new AppError('account_disabled');
  if (!sessionActive) {
    throw new AppError('unauthenticated', { detail: 'The session has ended', headers: CHALLENGE });
  }
  return { ...principal, role: user.role, tier: user.tier };
}

/**
 * Sets `c.var.principal`, or refuses. Invalid credentials count against the caller's address
 * (`auth_failures`): past the limit the address is refused before any lookup, so guessing tokens or
 * keys, or flooding with bad ones, costs neither database work nor more than the limit's worth of tries.
 */
export const requireUser =
  (requirement: Requirement = {}): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const failures = c.var.services.rateLimits.authFailures;
    const address = clientKey(c.var.clientIp);
    failures.assertNotBlocked(address);
    let principal: Principal;
    try {
      principal = await identify(c);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthenticated')
        await failures.recordFailure(address);
      throw error;
    }
    if (requirement.admin && principal.role !== 'admin')
      throw new AppError('forbidden', { detail: 'Admins only' });
    if (requirement.sessionOnly && principal.via !== 'session') {
      throw new AppError('forbidden', {
        detail: 'This operation needs a session; API keys cannot perform it',
      });
    }
    c.set('principal', principal);
    await next();
  };

/** Authentication, then the caller's rate limit (per user for a session, per key for an API key). */
export const authenticated = (requirement: Requirement = {}) =>
  [requireUser(requirement), rateLimit('principal')] as const;

/** The principal a `requireUser` middleware has set (a route without one is a programming error). */
export function principalOf(c: { var: { principal?: Principal } }): Principal {
  if (!c.var.principal) throw new Error('route reached without requireUser()');
  return c.var.principal;
}

/** Security requirement objects for a route's OpenAPI contract. */
export const SESSION_OR_KEY: Record<string, string[]>[] = [{ session: [] }, { apiKey: [] }];
export const SESSION_ONLY: Record<string, string[]>[] = [{ session: [] }];
