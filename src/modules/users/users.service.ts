import { and, desc, eq, ilike, lt, or, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import { hashPassword } from '../auth/passwords.ts';
import { type UserRow, users } from './users.tables.ts';

type Tier = UserRow['tier'];
type Role = UserRow['role'];

export type AdminUserPatch = { tier?: Tier; quota_bytes?: number; disabled?: boolean; role?: Role };

const UNIQUE_VIOLATION = '23505';
const CHECK_VIOLATION = '23514';
const pgCode = (error: unknown) =>
  (error as { cause?: { code?: string }; code?: string }).cause?.code ?? (error as { code?: string }).code;

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function createUsersService(deps: { db: Db; audit: AuditService; quotas: Config['quotas'] }) {
  const { db, audit, quotas } = deps;

  // Read on every authenticated request: prepared once, so drizzle does not rebuild its SQL each time.
  const byId = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .limit(1)
    .prepare('users_by_id');

  return {
    quotaOf: (tier: Tier) => quotas[tier],

    /** Registers an account; 409 email_taken when the (case-insensitive) email exists. */
    async register(input: { email: string; password: string; name?: string }, context: AuditContext) {
      const passwordHash = await hashPassword(input.password);
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx
            .insert(users)
            .values({
              id: newUuid(),
              email: input.email,
              passwordHash,
              name: input.name ?? null,
              quotaBytes: quotas.free,
            })
            .returning();
          await audit.record(tx, {
            ...context,
            actorId: row!.id,
            type: 'user.registered',
            target: { type: 'user', id: row!.id },
          });
          return row!;
        });
      } catch (error) {
        if (pgCode(error) === UNIQUE_VIOLATION) {
          throw new AppError('email_taken', {
            detail:
              'An account with this email already exists: sign in with POST /v1/auth/login, or reset its password with POST /v1/auth/password-reset',
          });
        }
        throw error;
      }
    },

    async findByEmail(email: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
      return row;
    },

    async findById(id: string, tx?: Db | Tx): Promise<UserRow | undefined> {
      const [row] = tx
        ? await tx.select().from(users).where(eq(users.id, id)).limit(1)
        : await byId.execute({ id });
      return row;
    },

    async get(id: string): Promise<UserRow> {
      const row = await this.findById(id);
      if (!row) throw new AppError('not_found');
      return row;
    },

    async rename(id: string, name: string | null): Promise<UserRow> {
      const [row] = await db
        .update(users)
        .set({ name, updatedAt: new Date() })
        .where(eq(users.id, id))
        .returning();
      if (!row) throw new AppError('not_found');
      return row;
    },

    async setPasswordHash(tx: Tx, id: string, passwordHash: string): Promise<void> {
      await tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id));
    },

    /** Newest first; the cursor is the last row's (created_at, id), so pages stay stable under inserts. */
    async list(filter: { limit: number; after?: { createdAt: Date; id: string }; q?: string }) {
      const pattern = filter.q ? `%${escapeLike(filter.q)}%` : undefined;
      return db
        .select()
        .from(users)
        .where(
          and(
            filter.after
              ? or(
                  lt(users.createdAt, filter.after.createdAt),
                  and(eq(users.createdAt, filter.after.createdAt), lt(users.id, filter.after.id)),
                )
              : undefined,
            pattern ? or(ilike(sql`${users.email}::text`, pattern), ilike(users.name, pattern)) : undefined,
          ),
        )
        .orderBy(desc(users.createdAt), desc(users.id))
        .limit(filter.limit);
    },

    /**
     * An admin's change of tier, quota, role or status, audited in the same transaction. A tier change
     * moves the quota with it unless the quota is set explicitly (now or before).
     */
    async adminUpdate(
      id: string,
      patch: AdminUserPatch,
      context: AuditContext & { actorId: string },
      onDisabled: (tx: Tx, userId: string) => Promise<void>,
    ): Promise<UserRow> {
      if (id === context.actorId && (patch.disabled === true || patch.role === 'user')) {
        throw new AppError('forbidden', { detail: 'Admins cannot disable or demote themselves' });
      }
      try {
        return await db.transaction(async (tx) => {
          const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update');
          if (!current) throw new AppError('not_found');
          const quotaCustom = patch.quota_bytes !== undefined || current.quotaCustom;
          const tier = patch.tier ?? current.tier;
          const changes = {
            tier,
            role: patch.role ?? current.role,
            quotaCustom,
            quotaBytes: patch.quota_bytes ?? (quotaCustom ? current.quotaBytes : quotas[tier]),
            disabledAt:
              patch.disabled === undefined
                ? current.disabledAt
                : patch.disabled
                  ? (current.disabledAt ?? new Date())
                  : null,
            updatedAt: new Date(),
          };
          const [row] = await tx.update(users).set(changes).where(eq(users.id, id)).returning();
          if (patch.disabled && !current.disabledAt) await onDisabled(tx, id);
          await audit.record(tx, {
            ...context,
            type: 'admin.user_updated',
            target: { type: 'user', id },
            data: { changes: patch },
          });
          return row!;
        });
      } catch (error) {
        if (pgCode(error) === CHECK_VIOLATION) {
          throw new AppError('validation_failed', {
            detail: 'The quota would be below the bytes the account already stores',
            errors: [{ location: 'body', path: 'quota_bytes', message: 'Below current usage' }],
          });
        }
        throw error;
      }
    },

    /**
     * The statement that charges one stored document of `bytes` to the account, for a caller's statement
     * to embed (a CTE): one conditional UPDATE, so concurrent uploads can never take `bytes_used` past
     * the quota. It charges only when `guard` holds, and returns the account's id when it did.
     */
    quotaCharge(userId: string | Placeholder, bytes: number | Placeholder, guard: SQL) {
      return db
        .update(users)
        .set({
          bytesUsed: sql`${users.bytesUsed} + ${bytes}`,
          documentCount: sql`${users.documentCount} + 1`,
        })
        .where(and(eq(users.id, userId), sql`${users.bytesUsed} + ${bytes} <= ${users.quotaBytes}`, guard))
        .returning({ id: users.id });
    },

    async releaseQuota(tx: Tx, userId: string, bytes: number): Promise<void> {
      await tx
        .update(users)
        .set({
          bytesUsed: sql`${users.bytesUsed} - ${bytes}`,
          documentCount: sql`${users.documentCount} - 1`,
        })
        .where(eq(users.id, userId));
    },

    /**
     * Bytes the account may still store, as an SQL expression a caller's statement can return (advisory:
     * the charge is the authority). Null when there is no such account.
     */
    remainingQuota: (userId: string | Placeholder) =>
      sql<
        number | null
      >`(select greatest(0, ${users.quotaBytes} - ${users.bytesUsed}) from ${users} where ${users.id} = ${userId})`.mapWith(
        (value) => (value === null ? null : Number(value)),
      ),

    /** Creates the configured admin, or makes the existing account an admin. Safe on every instance. */
    async ensureAdmin(email: string, password: string): Promise<void> {
      const passwordHash = await hashPassword(password);
      await db
        .insert(users)
        .values({ id: newUuid(), email, passwordHash, role: 'admin', quotaBytes: quotas.free })
        .onConflictDoUpdate({
          target: users.email,
          set: { role: 'admin' },
          where: sql`${users.role} <> 'admin'`,
        });
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
