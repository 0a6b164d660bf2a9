import type { Readable } from 'node:stream';
import { and, eq, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { toPublicId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import type { Storage } from '../../storage/storage.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { checkName, stale, storageUnavailable } from './document-fields.ts';
import { createUpload } from './document-upload.ts';
import { createDocumentStatements, type DocumentOrder, type ListPosition } from './documents.statements.ts';
import { type DocumentRow, documents } from './documents.tables.ts';

export function createDocumentsService(deps: {
  db: Db;
  storage: Storage;
  users: UsersService;
  audit: AuditService;
  config: Config;
  logger: Logger;
}) {
  const { db, storage, users, audit, logger } = deps;
  const statements = createDocumentStatements(db, users);
  const { readyById, pageQuery } = statements;

  /** This user's ready document `id`, at `expectedVersion` when an If-Match names one. */
  const readyAt = (userId: string, id: string, expectedVersion: number | undefined) =>
    and(
      eq(documents.id, id),
      eq(documents.userId, userId),
      eq(documents.status, 'ready'),
      expectedVersion === undefined ? undefined : eq(documents.version, expectedVersion),
    );

  return {
    upload: createUpload({ ...deps, statements }),

    /** A ready document of this user, or 404 (another account's id is indistinguishable from none). */
    async get(userId: string, id: string): Promise<DocumentRow> {
      const [row] = await readyById.execute({ id, userId });
      if (!row) {
        throw new AppError('not_found', {
          detail: `No document ${toPublicId('doc', id)} in this account: it was deleted, or the id is of another account`,
        });
      }
      return row;
    },

    /** The stored bytes of a ready document (or one range of them), streamed from the store. */
    async openContent(
      row: DocumentRow,
      range: { start: number; end: number } | undefined,
      signal: AbortSignal,
    ) {
      let body: Readable;
      try {
        body = await storage.get(row.storageKey, range, signal);
      } catch (error) {
        throw storageUnavailable(error);
      }
      // The response is cut short by the adapter; this says why, in our log and with the document.
      body.once('error', (error) => {
        if (!signal.aborted)
          logger.warn({ err: error, document_id: row.id }, 'download cut: the store failed mid-stream');
      });
      return body;
    },

    /** A presigned GET that downloads the document under `disposition` for `ttlS` seconds. */
    downloadUrl: (row: DocumentRow, disposition: string, ttlS: number) =>
      storage.presign(row.storageKey, disposition, row.contentType, ttlS),

    /** Keyset pagination on an index of (user_id, sort key, id): stable while documents are added. */
    list(
      userId: string,
      options: {
        limit: number;
        order: DocumentOrder;
        after?: ListPosition;
        q?: string;
        contentType?: string;
      },
    ): Promise<DocumentRow[]> {
      const { order, after, q, contentType } = options;
      return pageQuery({ order, after: after !== undefined, q: !!q, contentType: !!contentType }).execute({
        userId,
        limit: options.limit,
        q: !q ? undefined : `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
        contentType,
        afterId: after?.id,
        afterName: after?.name,
        afterCreatedAt: after?.createdAt?.toISOString(),
      });
    },

    /** Optimistic concurrency: with `expectedVersion`, a stale version is 412 precondition_failed. */
    async update(
      userId: string,
      id: string,
      patch: { name?: string; metadata?: Record<string, unknown> },
      expectedVersion?: number,
    ): Promise<DocumentRow> {
      const [row] = await db
        .update(documents)
        .set({
          ...(patch.name !== undefined ? { name: checkName(patch.name) } : {}),
          ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
          version: sql`${documents.version} + 1`,
          updatedAt: new Date(),
        })
        .where(readyAt(userId, id, expectedVersion))
        .returning();
      if (row) return row;
      await this.get(userId, id); // 404 when it is not there at all
      throw stale();
    },

    /**
     * Removes the document, its quota charge and its object in one transaction: the object is deleted
     * last, just before the commit, so a store that fails or hangs (bounded by S3_TIMEOUT_MS) rolls
     * everything back and the answer is 503 with the document intact, never a document that is gone
     * from the account while its bytes stay. With `expectedVersion` (If-Match), a stale version is 412.
     */
    async remove(
      userId: string,
      id: string,
      context: AuditContext,
      options: { expectedVersion?: number; signal?: AbortSignal } = {},
    ): Promise<void> {
      const { expectedVersion, signal } = options;
      await db.transaction(async (tx) => {
        const [row] = await tx
          .delete(documents)
          .where(readyAt(userId, id, expectedVersion))
          .returning();
        if (!row) {
          await this.get(userId, id); // 404 when it is not there at all
          throw stale();
        }
        await users.releaseQuota(tx, userId, row.sizeBytes);
        await audit.record(tx, {
          ...context,
          type: 'document.deleted',
          target: { type: 'document', id },
          data: { size_bytes: row.sizeBytes },
        });
        try {
          await storage.delete(row.storageKey, signal);
        } catch (error) {
          throw storageUnavailable(error);
        }
      });
    },
  };
}

export type DocumentsService = ReturnType<typeof createDocumentsService>;
