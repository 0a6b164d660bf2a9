import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { randomToken, sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { passwordResetTokens } from './auth.tables.ts';
import type { MailOutbox } from './mail.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { SessionsService } from './sessions.service.ts';

const TOKEN_TTL_MS = 30 * 60 * 1000;

export function createPasswordsService(deps: {
  db: Db;
  users: UsersService;
  sessions: SessionsService;
  audit: AuditService;
  outbox: MailOutbox;
  config: Config;
}) {
  const { db, users, sessions, audit, outbox, config } = deps;

  return {
    /** A signed-in user's change; every other session ends, the caller's own (if any) stays. */
    async change(
      userId: string,
      input: { current: string; next: string; keepSessionId?: string },
      context: AuditContext,
    ): Promise<void> {
      const user = await users.get(userId);
      if (!(await verifyPassword(user.passwordHash, input.current))) {
        throw new AppError('validation_failed', {
          detail: 'The current password is not correct',
          errors: [{ location: 'body', path: 'current_password', message: 'Incorrect' }],
        });
      }
      const passwordHash = await hashPassword(input.next);
      await db.transaction(async (tx) => {
        await users.setPasswordHash(tx, userId, passwordHash);
        await sessions.revokeAll(tx, userId, 'password_changed', input.keepSessionId);
        await audit.record(tx, {
          ...context,
          type: 'auth.password_changed',
          target: { type: 'user', id: userId },
        });
      });
    },

    /** Always succeeds for the caller: whether the account exists is never revealed. */
    async request(email: string, context: AuditContext): Promise<void> {
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
        // Sent by the worker, with retries: the answer never waits for SMTP, and the mail exists if and
        // only if the token does.
        await outbox.enqueue(tx, {
          to: user.email,
          subject: 'Reset your Stowage password',
          text:
            `Someone asked to reset the password of ${user.email}. If it was you, use this token within ` +
            `30 minutes with POST ${config.publicUrl}/v1/auth/password-reset/confirm:\n\n${token}\n\n` +
            'If it was not you, ignore this mail; your password is unchanged.',
        });
      });
    },

    /** Single use, 30 minutes; every session of the account ends with it. */
    async confirm(token: string, password: string, context: AuditContext): Promise<void> {
      const passwordHash = await hashPassword(password);
      await db.transaction(async (tx) => {
        const [row] = await tx
          .update(passwordResetTokens)
          .set({ usedAt: new Date() })
          .where(
            and(
              eq(passwordResetTokens.tokenHash, sha256(token)),
              isNull(passwordResetTokens.usedAt),
              gt(passwordResetTokens.expiresAt, new Date()),
            ),
          )
          .returning({ userId: passwordResetTokens.userId });
        if (!row) {
          throw new AppError('validation_failed', {
            detail: 'The reset token is invalid, expired or already used',
            errors: [{ location: 'body', path: 'token', message: 'Invalid, expired or already used' }],
          });
        }
        await users.setPasswordHash(tx, row.userId, passwordHash);
        await sessions.revokeAll(tx, row.userId, 'password_reset');
        await audit.record(tx, { ...context, actorId: row.userId, type: 'auth.password_reset' });
      });
    },
  };
}

export type PasswordsService = ReturnType<typeof createPasswordsService>;
