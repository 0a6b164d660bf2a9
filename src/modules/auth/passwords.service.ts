import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import { clientKey } from '../../platform/rate-limit/rate-limit.middleware.ts';
import type { RateLimits } from '../../platform/rate-limit/rate-limits.ts';
import { randomToken, sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { users as usersTable } from '../users/users.tables.ts';
import { passwordResetTokens } from './auth.tables.ts';
import type { MailOutbox } from './mail.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { SessionsService } from './sessions.service.ts';

const TOKEN_TTL_MS = 30 * 60 * 1000;

const invalidToken = () =>
  new AppError('validation_failed', {
    detail: 'The reset token is invalid, expired or already used',
    errors: [{ location: 'body', path: 'token', message: 'Invalid, expired or already used' }],
  });

/**
 * Every password write of an account takes its row lock first, so a reset, a change and a second reset
 * never interleave: whichever commits first spends every outstanding reset token of the account.
 */
async function lockAccount(tx: Tx, userId: string): Promise<void> {
  await tx
    .select({ id: usersTable.id })
    .from(usersTable)
    .where(eq(usersTable.id, userId))
    .for('no key update');
}

/** A new password makes every reset token issued before it worthless (issue 10 #4). */
async function spendResetTokens(tx: Tx, userId: string): Promise<void> {
  await tx
    .update(passwordResetTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(passwordResetTokens.userId, userId), isNull(passwordResetTokens.usedAt)));
}

export function createPasswordsService(deps: {
  db: Db;
  users: UsersService;
  sessions: SessionsService;
  audit: AuditService;
  outbox: MailOutbox;
  config: Config;
  logger: Logger;
  loginFailures?: RateLimits['loginFailures'];
}) {
  const { db, users, sessions, audit, outbox, config, logger, loginFailures } = deps;
  // Reset requests run after their 202 has been sent; shutdown waits for them (drain).
  const pending = new Set<Promise<void>>();

  /** The work of a reset request: a token and a queued mail for a live account, nothing otherwise. */
  async function sendResetToken(email: string, context: AuditContext): Promise<void> {
    const user = await users.findByEmail(email);
    if (!user || user.disabledAt) return;
    const token = randomToken(32);
    await db.transaction(async (tx) => {
      await tx.insert(passwordResetTokens).values({
        id: newUuid(),
        userId: user.id,
        tokenHash: sha256(token),
        expiresAt: new Date(Date.now() + TOKEN_TTL_MS),
      });
      await audit.record(tx, { ...context, actorId: user.id, type: 'auth.password_reset_requested' });
      // Sent by the worker, with retries: nothing waits for SMTP, and the mail exists if and only if
      // the token does.
      await outbox.enqueue(tx, {
        to: user.email,
        subject: 'Reset your Stowage password',
        text:
          `Someone asked to reset the password of ${user.email}. If it was you, use this token within ` +
          `30 minutes with POST ${config.publicUrl}/v1/auth/password-reset/confirm:\n\n${token}\n\n` +
          'If it was not you, ignore this mail; your password is unchanged.',
      });
    });
  }

  return {
    /**
     * A signed-in user's change; every other session ends, the caller's own (if any) stays. A wrong
     * current password is a guess like a failed login, and counts against the same lock-out.
     */
    async change(
      userId: string,
      input: { current: string; next: string; keepSessionId?: string },
      context: AuditContext,
    ): Promise<void> {
      const user = await users.get(userId);
      const address = clientKey(context.clientIp ?? 'unknown');
      await loginFailures?.assertNotLocked(user.email, address);
      if (!(await verifyPassword(user.passwordHash, input.current))) {
        await loginFailures?.recordFailure(user.email, address);
        throw new AppError('validation_failed', {
          detail: 'The current password is not correct',
          errors: [{ location: 'body', path: 'current_password', message: 'Incorrect' }],
        });
      }
      const passwordHash = await hashPassword(input.next);
      await db.transaction(async (tx) => {
        await lockAccount(tx, userId);
        await users.setPasswordHash(tx, userId, passwordHash);
        await spendResetTokens(tx, userId);
        await sessions.revokeAll(tx, userId, 'password_changed', input.keepSessionId);
        await audit.record(tx, {
          ...context,
          type: 'auth.password_changed',
          target: { type: 'user', id: userId },
        });
      });
    },

    /**
     * Always succeeds for the caller, and in the same time whether or not the account exists: the
     * lookup, the token and the queued mail happen after the answer. Failures are logged, never answered.
     */
    request(email: string, context: AuditContext): void {
      const work = sendResetToken(email, context)
        .catch((error: unknown) => logger.error({ err: error }, 'password reset request failed'))
        .finally(() => pending.delete(work));
      pending.add(work);
    },

    /** Resolves once every reset request accepted so far has done its work (shutdown, tests). */
    async drain(): Promise<void> {
      while (pending.size) await Promise.allSettled([...pending]);
    },

    /**
     * Single use, 30 minutes; every session of the account ends with it, and so does every other
     * outstanding reset token. Concurrent confirmations (of one token or of several) serialise on the
     * account's row: exactly one succeeds.
     */
    async confirm(token: string, password: string, context: AuditContext): Promise<void> {
      const passwordHash = await hashPassword(password);
      const tokenHash = sha256(token);
      await db.transaction(async (tx) => {
        const [found] = await tx
          .select({ userId: passwordResetTokens.userId })
          .from(passwordResetTokens)
          .where(eq(passwordResetTokens.tokenHash, tokenHash));
        if (!found) throw invalidToken();
        await lockAccount(tx, found.userId);
        const [row] = await tx
          .update(passwordResetTokens)
          .set({ usedAt: sql`now()` })
          .where(
            and(
              eq(passwordResetTokens.tokenHash, tokenHash),
              isNull(passwordResetTokens.usedAt),
              gt(passwordResetTokens.expiresAt, sql`now()`),
            ),
          )
          .returning({ userId: passwordResetTokens.userId });
        if (!row) throw invalidToken();
        await users.setPasswordHash(tx, row.userId, passwordHash);
        await spendResetTokens(tx, row.userId);
        await sessions.revokeAll(tx, row.userId, 'password_reset');
        await audit.record(tx, { ...context, actorId: row.userId, type: 'auth.password_reset' });
      });
    },
  };
}

export type PasswordsService = ReturnType<typeof createPasswordsService>;
