import { createHmac } from 'node:crypto';
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { clientKey } from '../../platform/rate-limit/rate-limit.middleware.ts';
import type { RateLimits } from '../../platform/rate-limit/rate-limits.ts';
import { digestsEqual, randomToken, sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import type { UserRow } from '../users/users.tables.ts';
import { refreshTokens, sessions } from './auth.tables.ts';
import { verifyPassword } from './passwords.ts';
import { createSessionCache, type SessionHolder } from './session-cache.ts';
import type { TokenService } from './tokens.ts';

export type Issued = { accessToken: string; expiresIn: number; refreshToken: string; user: UserRow };
type Outcome = { user: UserRow; sessionId: string; refreshToken: string } | { error: AppError };
type Client = AuditContext & { userAgent?: string };

const unauthenticated = (detail: string) => new AppError('unauthenticated', { detail });

/** A rotation's successor: HMAC of the successor's id keyed by the token it replaces (256 bits). */
const successorToken = (predecessor: string, successorId: string) =>
  createHmac('sha256', predecessor).update(`stowage refresh successor ${successorId}`).digest('base64url');

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
  const graceS = config.auth.refreshReuseGraceS;
  const cache = createSessionCache({ ttlMs: config.auth.sessionCacheTtlS * 1000 });

  /**
   * A new refresh token of the session. A rotation's successor is derived from the token it replaces
   * (and its own random id), so a retry holding the old token can be given the same successor again
   * without any secret being stored; its `created_at` equals the predecessor's `used_at` (one
   * transaction's now()), which is how the successor is found.
   */
  async function issueRefreshToken(tx: Tx, sessionId: string, predecessor?: string): Promise<string> {
    const id = newUuid();
    const token = predecessor ? successorToken(predecessor, id) : randomToken(32);
    await tx.insert(refreshTokens).values({
      id,
      sessionId,
      tokenHash: sha256(token),
      expiresAt: new Date(Date.now() + ttlMs),
    });
    return token;
  }

  /** The unused successor of a token rotated within the grace period, re-derived; else undefined. */
  async function graceSuccessor(
    tx: Tx,
    token: string,
    spent: typeof refreshTokens.$inferSelect,
  ): Promise<string | undefined> {
    if (!spent.usedAt) return undefined;
    const [next] = await tx
      .select()
      .from(refreshTokens)
      .where(
        and(
          eq(refreshTokens.sessionId, spent.sessionId),
          // Compared in SQL: a JS Date would drop the microseconds.
          sql`${refreshTokens.createdAt} = (select p.used_at from refresh_tokens p where p.id = ${spent.id})`,
          isNull(refreshTokens.usedAt),
          sql`${refreshTokens.expiresAt} > now()`,
        ),
      )
      .limit(1);
    if (!next) return undefined;
    const derived = successorToken(token, next.id);
    return digestsEqual(sha256(derived), next.tokenHash) ? derived : undefined;
  }

  /** The session's account, if the session and the presented token are still good. */
  async function liveHolder(
    tx: Tx,
    session: typeof sessions.$inferSelect,
    tokenExpiresAt: Date,
  ): Promise<{ user: UserRow } | { error: AppError }> {
    if (session.revokedAt) return { error: unauthenticated('The session has ended') };
    if (tokenExpiresAt <= new Date() || session.expiresAt <= new Date()) {
      return { error: unauthenticated('The refresh token has expired') };
    }
    const user = await users.findById(session.userId, tx);
    if (!user) return { error: unauthenticated('The account no longer exists') };
    if (user.disabledAt) return { error: new AppError('account_disabled') };
    return { user };
  }

  /** A spent token presented again outside the grace period: the whole family ends. */
  async function reuseDetected(
    tx: Tx,
    session: typeof sessions.$inferSelect,
    client: Client,
  ): Promise<{ error: AppError }> {
    if (!session.revokedAt) {
      await revokeSession(tx, session.id, 'refresh_token_reused');
      await audit.record(tx, {
        ...client,
        actorId: session.userId,
        type: 'auth.refresh_token_reused',
        target: { type: 'session', id: session.id },
      });
    }
    return { error: new AppError('refresh_token_reused') };
  }

  // A revocation evicts here at once and holds the session out of the cache until the trigger's
  // notification, sent at commit, reaches this instance (and every other).
  async function revokeSession(tx: Tx, sessionId: string, reason: string): Promise<void> {
    cache.forgetSession(sessionId);
    await tx
      .update(sessions)
      .set({ revokedAt: new Date(), revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
  }

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
        return issueRefreshToken(tx, sessionId);
      });
      return issued(user!, sessionId, refreshToken);
    },

    /**
     * Rotates the refresh token, atomically: of concurrent refreshes with one token exactly one rotates
     * it (a conditional UPDATE), so a session never forks. The others, and any retry within
     * REFRESH_REUSE_GRACE_S of the rotation, get that same successor while it is unused (a client that
     * lost the answer, or two tabs racing: Okta's grace period). Outside the grace period, or once the
     * successor has been used, a spent token means it leaked: the whole session is revoked and the caller
     * gets `refresh_token_reused`.
     */
    async refresh(token: string, client: Client): Promise<Issued> {
      const tokenHash = sha256(token);
      const outcome = await db.transaction(async (tx): Promise<Outcome> => {
        // Blocks while a concurrent rotation holds the row, then sees its committed `used_at`.
        const [won] = await tx
          .update(refreshTokens)
          .set({ usedAt: sql`now()` })
          .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.usedAt)))
          .returning({ id: refreshTokens.id });
        const [row] = await tx
          .select({
            token: refreshTokens,
            session: sessions,
            inGrace: sql<boolean>`${refreshTokens.usedAt} > now() - make_interval(secs => ${graceS})`,
          })
          .from(refreshTokens)
          .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
          .where(eq(refreshTokens.tokenHash, tokenHash));
        if (!row) return { error: unauthenticated('The refresh token is unknown') };
        const { session } = row;
        if (!won) {
          const successor =
            row.inGrace && !session.revokedAt ? await graceSuccessor(tx, token, row.token) : undefined;
          if (!successor) return reuseDetected(tx, session, client);
          const live = await liveHolder(tx, session, row.token.expiresAt);
          return 'error' in live ? live : { user: live.user, sessionId: session.id, refreshToken: successor };
        }
        const live = await liveHolder(tx, session, row.token.expiresAt);
        if ('error' in live) return live;
        return {
          user: live.user,
          sessionId: session.id,
          refreshToken: await issueRefreshToken(tx, session.id, token),
        };
      });
      // The reuse revocation must commit even though the request fails, hence returned, not thrown.
      if ('error' in outcome) throw outcome.error;
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
