import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { clientKey } from '../../platform/rate-limit/rate-limit.middleware.ts';
import type { RateLimits } from '../../platform/rate-limit/rate-limits.ts';
import { sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import type { UserRow } from '../users/users.tables.ts';
import { refreshTokens, sessions } from './auth.tables.ts';
import { verifyPassword } from './passwords.ts';
import { createRefreshRotation } from './refresh-rotation.ts';
import { createSessionCache, type SessionHolder } from './session-cache.ts';
import type { TokenService } from './tokens.ts';

export type Issued = { accessToken: string; expiresIn: number; refreshToken: string; user: UserRow };
type Client = AuditContext & { userAgent?: string };

export function createSessionsService(deps: {
  db: Db;
  users: UsersService;
  audit: AuditService;
  tokens: TokenService;
  config: Config;
  loginFailures: RateLimits['loginFailures'];
}) {
  const { db, users, audit, tokens, config, loginFailures } = deps;
  const ttlMs = config.auth.refreshTokenTtlS * 1000;
  const cache = createSessionCache({ ttlMs: config.auth.sessionCacheTtlS * 1000 });

  // A revocation evicts here at once and holds the session out of the cache until the trigger's
  // notification, sent at commit, reaches this instance (and every other).
  async function revokeSession(tx: Tx, sessionId: string, reason: string): Promise<void> {
    cache.forgetSession(sessionId);
    await tx
      .update(sessions)
      .set({ revokedAt: new Date(), revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
  }

  const rotation = createRefreshRotation({
    db,
    users,
    audit,
    ttlMs,
    graceS: config.auth.refreshReuseGraceS,
    revokeSession,
  });

  const issued = async (user: UserRow, sessionId: string, refreshToken: string): Promise<Issued> => ({
    accessToken: await tokens.sign({ userId: user.id, sessionId }),
    expiresIn: tokens.ttlSeconds,
    refreshToken,
    user,
  });

  // Checked on every session request: prepared once, so drizzle does not rebuild its SQL each time.
  const activeSession = db
    .select({ expiresAt: sessions.expiresAt })
    .from(sessions)
    .where(
      and(
        eq(sessions.id, sql.placeholder('sessionId')),
        eq(sessions.userId, sql.placeholder('userId')),
        isNull(sessions.revokedAt),
        sql`${sessions.expiresAt} > now()`,
      ),
    )
    .prepare('sessions_active');

  return {
    /** Same answer, in about the same time, for an unknown email and a wrong password. */
    async login(input: { email: string; password: string }, client: Client): Promise<Issued> {
      // A locked email (for this address, or everywhere) is refused before any hashing.
      const address = clientKey(client.clientIp ?? 'unknown');
      await loginFailures.assertNotLocked(input.email, address);
      const user = await users.findByEmail(input.email);
      if (!(await verifyPassword(user?.passwordHash, input.password))) {
        await loginFailures.recordFailure(input.email, address);
        await audit.recordAlone({
          ...client,
          actorId: user?.id,
          type: 'auth.login_failed',
          data: { reason: 'invalid_credentials', known_email: user !== undefined },
        });
        throw new AppError('invalid_credentials');
      }
      await loginFailures.reset(input.email, address);
      if (user!.disabledAt) {
        await audit.recordAlone({
          ...client,
          actorId: user!.id,
          type: 'auth.login_failed',
          data: { reason: 'disabled' },
        });
        throw new AppError('account_disabled');
      }
      const sessionId = newUuid();
      const refreshToken = await db.transaction(async (tx) => {
        await tx.insert(sessions).values({
          id: sessionId,
          userId: user!.id,
          userAgent: client.userAgent?.slice(0, 512) ?? null,
          clientIp: client.clientIp && client.clientIp !== 'unknown' ? client.clientIp : null,
          expiresAt: new Date(Date.now() + ttlMs),
        });
        await audit.record(tx, {
          ...client,
          actorId: user!.id,
          type: 'auth.login_succeeded',
          target: { type: 'session', id: sessionId },
        });
        return rotation.issue(tx, sessionId);
      });
      return issued(user!, sessionId, refreshToken);
    },

    /** Rotates the refresh token (refresh-rotation.ts): a new access token and the successor cookie. */
    async refresh(token: string, client: Client): Promise<Issued> {
      const outcome = await rotation.rotate(token, client);
      return issued(outcome.user, outcome.sessionId, outcome.refreshToken);
    },

    /** Ends the session the refresh token belongs to; unknown or spent tokens are fine (idempotent). */
    async logout(token: string | undefined, client: Client): Promise<void> {
      if (!token) return;
      await db.transaction(async (tx) => {
        const [row] = await tx
          .select({ session: sessions })
          .from(refreshTokens)
          .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
          .where(eq(refreshTokens.tokenHash, sha256(token)));
        if (!row || row.session.revokedAt) return;
        await revokeSession(tx, row.session.id, 'logout');
        await audit.record(tx, {
          ...client,
          actorId: row.session.userId,
          type: 'auth.logout',
          target: { type: 'session', id: row.session.id },
        });
      });
    },

    /** Revokes every live session of a user (all of them, or all but `except`). */
    async revokeAll(tx: Tx, userId: string, reason: string, except?: string): Promise<void> {
      const revoked = await tx
        .update(sessions)
        .set({ revokedAt: new Date(), revokedReason: reason })
        .where(
          and(
            eq(sessions.userId, userId),
            isNull(sessions.revokedAt),
            except ? ne(sessions.id, except) : undefined,
          ),
        )
        .returning({ id: sessions.id });
      for (const { id } of revoked) cache.forgetSession(id);
    },

    /**
     * Who holds a live session, or why nobody does. The account is judged first, so a disabled user hears
     * why (their sessions are revoked as well). Both are read at once (one round trip of latency), unless
     * the cache may answer.
     */
    async holder(
      sessionId: string,
      userId: string,
    ): Promise<SessionHolder | 'account_gone' | 'account_disabled' | 'session_ended'> {
      const cached = cache.get(sessionId);
      if (cached?.userId === userId) return cached;
      const version = cache.version();
      const [user, [session]] = await Promise.all([
        users.findById(userId),
        activeSession.execute({ sessionId, userId }),
      ]);
      if (!user) return 'account_gone';
      if (user.disabledAt) return 'account_disabled';
      if (!session) return 'session_ended';
      const holder = { userId, role: user.role, tier: user.tier };
      cache.set(sessionId, holder, version, session.expiresAt);
      return holder;
    },

    /** The holders this instance remembers; `principal_changes` notifications keep it true. */
    cache,
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
