import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, Principal, VariablesOf } from '../../platform/app-env.ts';
import { AppError } from '../../platform/problem.ts';
import { clientKey, rateLimit } from '../../platform/rate-limit/rate-limit.middleware.ts';
import { bearerMethod, countAuth } from '../../telemetry/outcomes.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="stowage"' };

export type Requirement = {
  /** Only an admin may call. */
  admin?: boolean;
  /** Only a session (not an API key) may call: managing keys and the password. */
  sessionOnly?: boolean;
};

/**
 * `Authorization: Bearer <access token | sk_ API key>` → the principal. An API key and its account are
 * looked up on every request, so revoking it applies at once on every instance. A session's holder may
 * come from the session cache, which every revocation, disabling or role/tier change evicts on every
 * instance as it commits (`sessions.holder`).
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
  const { tokens, sessions, apiKeys, users } = c.get('services');

  if (token.startsWith('sk_')) {
    const key = await apiKeys.authenticate(token);
    const user = await users.findById(key.userId);
    if (!user) throw refused('account_gone');
    if (user.disabledAt) throw refused('account_disabled');
    return { userId: key.userId, via: 'api_key', apiKeyId: key.keyId, role: user.role, tier: user.tier };
  }
  const claims = await tokens.verify(token);
  const holder = await sessions.holder(claims.sessionId, claims.userId);
  if (typeof holder === 'string') throw refused(holder);
  return { ...holder, via: 'session', sessionId: claims.sessionId };
}

const refused = (reason: 'account_gone' | 'account_disabled' | 'session_ended') =>
  reason === 'account_disabled'
    ? new AppError('account_disabled')
    : new AppError('unauthenticated', {
        detail: reason === 'account_gone' ? 'The account no longer exists' : 'The session has ended',
        headers: CHALLENGE,
      });

/**
 * Sets the `principal` variable, or refuses. Invalid credentials count against the caller's address
 * (`auth_failures`): past the limit the address is refused before any lookup, so guessing tokens or
 * keys, or flooding with bad ones, costs neither database work nor more than the limit's worth of tries.
 */
export const requireUser =
  (requirement: Requirement = {}): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const failures = c.get('services').rateLimits.authFailures;
    const address = clientKey(c.get('clientIp'));
    failures.assertNotBlocked(address);
    let principal: Principal;
    try {
      principal = await countAuth(bearerMethod(c.req.header('authorization')), identify(c));
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
export function principalOf(c: VariablesOf): Principal {
  const principal = c.get('principal');
  if (!principal) throw new Error('route reached without requireUser()');
  return principal;
}

/** Security requirement objects for a route's OpenAPI contract. */
export const SESSION_OR_KEY: Record<string, string[]>[] = [{ session: [] }, { apiKey: [] }];
export const SESSION_ONLY: Record<string, string[]>[] = [{ session: [] }];
