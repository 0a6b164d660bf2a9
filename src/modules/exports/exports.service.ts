import type { Readable } from 'node:stream';
import { and, desc, eq, inArray, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import type { JobSender } from '../../jobs/boss.ts';
import { QUEUES } from '../../jobs/queues.ts';
import { newUuid } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import { listKeys, type Storage } from '../../storage/storage.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import { documents } from '../documents/documents.tables.ts';
import { type ExportRow, exportPrefix, exports } from './exports.tables.ts';

export type ExportJob = { export_id: string };

const isActiveConflict = (error: unknown) => {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const { code, constraint_name } = current as { code?: string; constraint_name?: string };
    if (code === '23505' && constraint_name === 'exports_one_active_idx') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
};

/** The API side of exports: the row and its job are created together; the worker does the rest. */
export function createExportsService(deps: {
  db: Db;
  storage: Storage;
  jobs: JobSender;
  audit: AuditService;
  logger: Logger;
}) {
  const { db, storage, jobs, audit, logger } = deps;
  const visible = (userId: string, id: string) =>
    and(eq(exports.id, id), eq(exports.userId, userId), isNull(exports.deletedAt));

  async function get(userId: string, id: string): Promise<ExportRow> {
    const [row] = await db.select().from(exports).where(visible(userId, id));
    if (!row) throw new AppError('not_found');
    return row;
  }

  return {
    get,

    async create(
      userId: string,
      input: { documentIds?: string[]; q?: string },
      context: AuditContext,
    ): Promise<ExportRow> {
      const ids = input.documentIds ? [...new Set(input.documentIds)] : undefined;
      if (ids) {
        const found = new Set(
          (
            await db
              .select({ id: documents.id })
              .from(documents)
              .where(
                and(eq(documents.userId, userId), eq(documents.status, 'ready'), inArray(documents.id, ids)),
              )
          ).map((doc) => doc.id),
        );
        const unknown = input.documentIds!.flatMap((id, index) => (found.has(id) ? [] : [index]));
        if (unknown.length) {
          throw new AppError('validation_failed', {
            detail: `${unknown.length} document${unknown.length === 1 ? ' does' : 's do'} not exist`,
            errors: unknown.slice(0, 20).map((index) => ({
              location: 'body' as const,
              path: `document_ids.${index}`,
              message: 'No such document',
            })),
          });
        }
      }
      const id = newUuid();
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx
            .insert(exports)
            .values({ id, userId, documentIds: ids ?? null, query: input.q ?? null })
            .returning();
          await jobs.send(tx, QUEUES.export, { export_id: id } satisfies ExportJob);
          await audit.record(tx, { ...context, type: 'export.created', target: { type: 'export', id } });
          return row!;
        });
      } catch (error) {
        if (isActiveConflict(error)) {
          throw new AppError('export_in_progress', {
            detail: 'Wait for the queued or running export to finish, or cancel it',
          });
        }
        throw error;
      }
    },

    async list(userId: string, options: { limit: number; before?: { createdAt: Date; id: string } }) {
      return db
        .select()
        .from(exports)
        .where(
          and(
            eq(exports.userId, userId),
            isNull(exports.deletedAt),
            options.before
              ? or(
                  lt(exports.createdAt, options.before.createdAt),
                  and(eq(exports.createdAt, options.before.createdAt), lt(exports.id, options.before.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(exports.createdAt), desc(exports.id))
        .limit(options.limit);
    },

    /** The finished ZIP of an export that succeeded; 409 before, 410 once expired. */
    async ready(userId: string, id: string): Promise<ExportRow & { storageKey: string }> {
      const row = await get(userId, id);
      if (row.status === 'expired')
        throw new AppError('gone', { detail: 'The export expired and was removed' });
      if (row.status !== 'succeeded' || !row.storageKey) {
        throw new AppError('export_not_ready', { detail: `The export is ${row.status}` });
      }
      return row as ExportRow & { storageKey: string };
    },

    openContent(
      row: ExportRow & { storageKey: string },
      range: { start: number; end: number } | undefined,
      signal: AbortSignal,
    ): Promise<Readable> {
      return storage.get(row.storageKey, range, signal);
    },

    downloadUrl(row: ExportRow & { storageKey: string }, disposition: string, ttlS: number) {
      return storage.presign(row.storageKey, disposition, 'application/zip', ttlS);
    },

    recordDownload(row: ExportRow, context: AuditContext) {
      return audit.recordAlone({
        ...context,
        type: 'export.downloaded',
        target: { type: 'export', id: row.id },
      });
    },

    /**
     * A queued or running export is canceled (the worker notices within seconds, aborts its upload and
     * leaves no object); a finished one is hidden at once and its object removed.
     */
    async remove(userId: string, id: string, context: AuditContext): Promise<void> {
      const outcome = await db.transaction(async (tx) => {
        const [canceled] = await tx
          .update(exports)
          .set({ status: 'canceled', finishedAt: new Date(), updatedAt: new Date() })
          .where(and(visible(userId, id), inArray(exports.status, ['queued', 'running'])))
          .returning();
        if (canceled) {
          await audit.record(tx, { ...context, type: 'export.canceled', target: { type: 'export', id } });
          return 'canceled' as const;
        }
        const [deleted] = await tx
          .update(exports)
          .set({ deletedAt: new Date(), updatedAt: new Date() })
          .where(visible(userId, id))
          .returning();
        if (!deleted) throw new AppError('not_found');
        await audit.record(tx, { ...context, type: 'export.deleted', target: { type: 'export', id } });
        return deleted;
      });
      if (outcome === 'canceled') return;
      // Removed now if the store answers; otherwise the purge job retries (the row stays hidden).
      try {
        for (const key of await listKeys(storage, exportPrefix(outcome))) await storage.delete(key);
        await db.delete(exports).where(eq(exports.id, outcome.id));
      } catch (error) {
        logger.warn(
          { err: error, export_id: id },
          'could not remove a deleted export’s object; the purge will',
        );
      }
    },
  };
}

export type ExportsService = ReturnType<typeof createExportsService>;
