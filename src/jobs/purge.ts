import { and, eq, inArray, isNotNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { idempotencyKeys } from '../db/platform.tables.ts';
import { passwordResetTokens, refreshTokens, sessions } from '../modules/auth/auth.tables.ts';
import type { ExportRunner } from '../modules/exports/export-runner.ts';
import { exports } from '../modules/exports/exports.tables.ts';
import type { Logger } from '../platform/logger.ts';

const BATCH = 500;
// Kept past their end for a while: a reused refresh token must still be recognised as reused (and revoke
// its family) rather than look unknown, and recent rows help an investigation.
const SESSION_GRACE = sql`interval '7 days'`;
const TOKEN_GRACE = sql`interval '1 day'`;
const EXPORT_ROW_RETENTION = sql`interval '30 days'`;

/**
 * Removes what has outlived its purpose: idempotency records past 24 h, spent or expired reset tokens,
 * expired refresh tokens, finished sessions, and expired or deleted exports with their objects. Each
 * step works in batches, so one run's transactions stay short.
 */
export function createPurge(deps: { db: Db; exportRunner: ExportRunner; logger: Logger }) {
  const { db, exportRunner, logger } = deps;

  async function batched(step: () => Promise<number>): Promise<number> {
    let total = 0;
    for (let round = 0; round < 100; round++) {
      const removed = await step();
      total += removed;
      if (removed < BATCH) break;
    }
    return total;
  }

  async function runOnce(): Promise<Record<string, number>> {
    const counts = {
      idempotency_keys: await batched(
        async () =>
          (
            await db.execute(sql`delete from ${idempotencyKeys} where ctid in (
            select ctid from ${idempotencyKeys} where ${idempotencyKeys.createdAt} < now() - interval '24 hours'
              and ${idempotencyKeys.lockedUntil} < now() limit ${BATCH})`)
          ).count ?? 0,
      ),
      password_reset_tokens: await batched(
        async () =>
          (
            await db.execute(sql`delete from ${passwordResetTokens} where id in (
            select id from ${passwordResetTokens}
            where ${passwordResetTokens.expiresAt} < now() - ${TOKEN_GRACE}
               or ${passwordResetTokens.usedAt} < now() - ${TOKEN_GRACE} limit ${BATCH})`)
          ).count ?? 0,
      ),
      refresh_tokens: await batched(
        async () =>
          (
            await db.execute(sql`delete from ${refreshTokens} where id in (
            select id from ${refreshTokens} where ${refreshTokens.expiresAt} < now() - ${TOKEN_GRACE} limit ${BATCH})`)
          ).count ?? 0,
      ),
      sessions: await batched(
        async () =>
          (
            await db.execute(sql`delete from ${sessions} where id in (
            select id from ${sessions}
            where ${sessions.expiresAt} < now() - ${SESSION_GRACE}
               or ${sessions.revokedAt} < now() - ${SESSION_GRACE} limit ${BATCH})`)
          ).count ?? 0,
      ),
      exports: await purgeExports(),
    };
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (total) logger.info({ removed: counts }, 'purge removed expired records');
    return counts;
  }

  /** Expired exports lose their object (the row stays, `expired`, for 410); deleted ones go entirely. */
  async function purgeExports(): Promise<number> {
    let removed = 0;
    const due = await db
      .select()
      .from(exports)
      .where(
        or(
          and(eq(exports.status, 'succeeded'), lt(exports.expiresAt, sql`now()`)),
          isNotNull(exports.deletedAt),
          and(
            inArray(exports.status, ['failed', 'canceled', 'expired']),
            lt(exports.finishedAt, sql`now() - ${EXPORT_ROW_RETENTION}`),
          ),
        ),
      )
      .limit(BATCH);
    for (const row of due) {
      try {
        await exportRunner.removeObjects(row);
        if (row.deletedAt || row.status !== 'succeeded') {
          await db.delete(exports).where(eq(exports.id, row.id));
        } else {
          await db
            .update(exports)
            .set({ status: 'expired', storageKey: null, updatedAt: new Date() })
            .where(and(eq(exports.id, row.id), eq(exports.status, 'succeeded')));
        }
        removed++;
      } catch (error) {
        logger.warn({ err: error, export_id: row.id }, 'could not purge an export; next run retries');
      }
    }
    return removed;
  }

  return { runOnce };
}
