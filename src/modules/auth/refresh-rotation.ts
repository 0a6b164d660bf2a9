import { createHmac } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { digestsEqual, randomToken, sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import type { UserRow } from '../users/users.tables.ts';
import { refreshTokens, sessions } from './auth.tables.ts';

type Client = AuditContext & { userAgent?: string };
export type Rotated = { user: UserRow; sessionId: string; refreshToken: string };

const unauthenticated = (detail: string) => new AppError('unauthenticated', { detail });

/** A rotation's successor: HMAC of the successor's id keyed by the token it replaces (256 bits). */
const successorToken = (predecessor: string, successorId: string) =>
  createHmac('sha256', predecessor).update(`stowage refresh successor ${successorId}`).digest('base64url');

/** Refresh tokens: issued at login, rotated on every use, atomically (issue 10 #3). */
export function createRefreshRotation(deps: {
  db: Db;
  users: UsersService;
  audit: AuditService;
  ttlMs: number;
  graceS: number;
  revokeSession: (tx: Tx, sessionId: string, reason: string) => Promise<void>;
}) {
  const { db, users, audit, ttlMs, graceS, revokeSession } = deps;

  /**
   * A new refresh token of the session. A rotation's successor is derived from the token it replaces
   * (and its own random id), so a retry holding the old token can be given the same successor again
   * without any secret being stored; its `created_at` equals the predecessor's `used_at` (one
   * transaction's now()), which is how the successor is found.
   */
  async function issue(tx: Tx, sessionId: string, predecessor?: string): Promise<string> {
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

  /**
   * Rotates the refresh token, atomically: of concurrent refreshes with one token exactly one rotates
   * it (a conditional UPDATE), so a session never forks. The others, and any retry within
   * REFRESH_REUSE_GRACE_S of the rotation, get that same successor while it is unused (a client that
   * lost the answer, or two tabs racing: Okta's grace period). Outside the grace period, or once the
   * successor has been used, a spent token means it leaked: the whole session is revoked and the caller
   * gets `refresh_token_reused`.
   */
  async function rotate(token: string, client: Client): Promise<Rotated> {
    const tokenHash = sha256(token);
    const outcome = await db.transaction(async (tx): Promise<Rotated | { error: AppError }> => {
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
        refreshToken: await issue(tx, session.id, token),
      };
    });
    // The reuse revocation must commit even though the request fails, hence returned, not thrown.
    if ('error' in outcome) throw outcome.error;
    return outcome;
  }

  return { issue, rotate };
}
