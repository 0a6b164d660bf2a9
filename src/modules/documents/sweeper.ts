import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { toPublicId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Storage } from '../../storage/storage.ts';
import { documents } from './documents.tables.ts';

const BATCH = 100;
// A delete in progress gets this long to finish on its own before the sweeper steps in.
const DELETING_GRACE = sql`interval '1 minute'`;

/**
 * Removes what crashed or failed requests left: `pending` uploads older than the TTL and `deleting`
 * documents whose object deletion failed. Rows are claimed with SKIP LOCKED, so overlapping runs never
 * collide; the worker runs it on a singleton schedule (src/jobs/). An object that cannot be deleted keeps its row for next time.
 */
export function createSweeper(deps: { db: Db; storage: Storage; logger: Logger; pendingTtlS: number }) {
  const { db, storage, logger } = deps;

  async function runOnce(): Promise<number> {
    return db.transaction(async (tx) => {
      const leftovers = await tx
        .select({ id: documents.id, storageKey: documents.storageKey, status: documents.status })
        .from(documents)
        .where(
          or(
            and(
              eq(documents.status, 'pending'),
              lt(documents.updatedAt, sql`now() - make_interval(secs => ${deps.pendingTtlS})`),
            ),
            and(eq(documents.status, 'deleting'), lt(documents.updatedAt, sql`now() - ${DELETING_GRACE}`)),
          ),
        )
        .orderBy(documents.updatedAt)
        .limit(BATCH)
        .for('update', { skipLocked: true });
      let removed = 0;
      for (const leftover of leftovers) {
        try {
          await storage.delete(leftover.storageKey);
          await tx.delete(documents).where(eq(documents.id, leftover.id));
          removed++;
        } catch (error) {
          logger.warn(
            { err: error, document_id: toPublicId('doc', leftover.id) },
            'sweeper could not delete an object; will retry',
          );
        }
      }
      if (removed) logger.info({ removed }, 'sweeper removed upload leftovers');
      return removed;
    });
  }

  return { runOnce };
}
