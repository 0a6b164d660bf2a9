import type { Readable } from 'node:stream';
import { and, asc, desc, eq, gt, ilike, lt, or, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import type { Storage } from '../../storage/storage.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { type DocumentRow, documents } from './documents.tables.ts';
import { MeteredStream, receiveMultipart } from './upload-stream.ts';

export type DocumentOrder = 'created_at.desc' | 'created_at.asc' | 'name.asc';
export type ListPosition = { order: DocumentOrder; createdAt?: Date; name?: string; id: string };

const METADATA_MAX_BYTES = 4096;
const NAME_MAX = 255;

const invalidField = (path: string, message: string) =>
  new AppError('validation_failed', {
    detail: '1 field is invalid',
    errors: [{ location: 'body', path, message }],
  });

const storageUnavailable = (cause: unknown) =>
  new AppError('service_unavailable', {
    detail: 'The document store is unavailable; retry later',
    headers: { 'Retry-After': '5' },
    cause,
  });

function parseMetadata(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) throw invalidField('metadata', 'At most 4 KiB');
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  throw invalidField('metadata', 'Must be a JSON object');
}

export function checkName(name: string, path = 'name'): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > NAME_MAX || /\p{Cc}/u.test(trimmed)) {
    throw invalidField(path, `1–${NAME_MAX} characters, no control characters`);
  }
  return trimmed;
}

const allows = (allowed: string[], type: string) =>
  allowed.some((entry) => entry === type || (entry.endsWith('/*') && type.startsWith(entry.slice(0, -1))));

export function createDocumentsService(deps: {
  db: Db;
  storage: Storage;
  users: UsersService;
  audit: AuditService;
  config: Config;
  logger: Logger;
}) {
  const { db, storage, users, audit, logger } = deps;
  const { maxUploadBytes, allowedContentTypes } = deps.config.documents;

  /**
   * Removes an upload that did not complete: its object first, then its row. The object is deleted even
   * when the put reported a failure: a put whose answer was lost (the store stopped or the connection
   * broke after it had the bytes) may have stored it, and deleting a missing key is a no-op. If that
   * delete fails, the pending row stays, so the sweeper retries both.
   */
  async function discard(row: Pick<DocumentRow, 'id' | 'storageKey'>): Promise<void> {
    try {
      await storage.delete(row.storageKey);
    } catch (error) {
      logger.warn(
        { err: error, document_id: row.id },
        'could not delete the object of a failed upload; the sweeper will',
      );
      return;
    }
    await db.delete(documents).where(and(eq(documents.id, row.id), eq(documents.status, 'pending')));
  }

  // The hottest read of the API: prepared once, so drizzle does not rebuild its SQL each time.
  const readyById = db
    .select()
    .from(documents)
    .where(
      and(
        eq(documents.id, sql.placeholder('id')),
        eq(documents.userId, sql.placeholder('userId')),
        eq(documents.status, 'ready'),
      ),
    )
    .prepare('documents_ready_by_id');

  return {
    /**
     * Streams one multipart upload to storage. A `pending` row holds the key while bytes flow; the
     * quota is charged in the transaction that marks it `ready`. Any failure (size, quota, client gone,
     * storage down) aborts the upload and removes the object and the row: no half state survives.
     */
    async upload(
      userId: string,
      request: { contentType: string; contentLength?: number; body: Readable },
      signal: AbortSignal,
      context: AuditContext,
    ): Promise<DocumentRow> {
      const declared = request.contentLength ?? Number.NaN;
      // Multipart framing adds a little; a declared size far above the limit is refused unread.
      if (declared > maxUploadBytes + 64 * 1024) {
        throw new AppError('payload_too_large', {
          detail: `Documents are limited to ${maxUploadBytes} bytes`,
        });
      }
      const remaining = await users.remainingQuota(userId);
      const received = receiveMultipart(request.contentType, request.body);
      const part = await received.file;
      if (!allows(allowedContentTypes, part.mimeType)) {
        part.stream.resume();
        throw new AppError('unsupported_media_type', {
          detail: `Documents of type ${part.mimeType} are not accepted`,
        });
      }

      const limit = Math.min(maxUploadBytes, remaining);
      const metered = new MeteredStream(limit, () =>
        remaining < maxUploadBytes
          ? new AppError('quota_exceeded', { detail: 'Storing this document would exceed the quota' })
          : new AppError('payload_too_large', { detail: `Documents are limited to ${maxUploadBytes} bytes` }),
      );
      const id = newUuid();
      const row = { id, storageKey: `documents/${userId}/${id}` };
      await db.insert(documents).values({
        ...row,
        userId,
        name: part.filename.trim() ? checkName(part.filename, 'file') : 'untitled',
        contentType: part.mimeType,
      });

      const abort = new AbortController();
      const onClientGone = () => abort.abort(new AppError('bad_request', { detail: 'The client went away' }));
      signal.addEventListener('abort', onClientGone, { once: true });
      // The first of our own refusals (size, quota, a bad field) is the answer; the stream errors that
      // follow from it (or from the store failing) are consequences, not causes.
      let failure: AppError | undefined;
      const failWith = (error: unknown) => {
        if (error instanceof AppError) failure ??= error;
        abort.abort(error);
      };
      metered.on('error', failWith);
      part.stream.on('error', failWith);
      received.fields.catch(failWith);
      let stored: Promise<void> | undefined;
      try {
        stored = storage
          .put(row.storageKey, part.stream.pipe(metered), part.mimeType, abort.signal)
          .catch((error) => {
            throw failure ?? (error instanceof AppError ? error : storageUnavailable(error));
          });
        const [, fields] = await Promise.all([stored, received.fields]);
        const name = fields.has('name') ? checkName(fields.get('name')!) : undefined;
        const metadata = parseMetadata(fields.get('metadata'));
        return await db.transaction(async (tx) => {
          await users.chargeQuota(tx, userId, metered.bytes);
          const [ready] = await tx
            .update(documents)
            .set({
              status: 'ready',
              sizeBytes: metered.bytes,
              sha256: metered.sha256,
              metadata,
              ...(name ? { name } : {}),
              updatedAt: new Date(),
            })
            .where(eq(documents.id, id))
            .returning();
          await audit.record(tx, {
            ...context,
            type: 'document.created',
            target: { type: 'document', id },
            data: { size_bytes: metered.bytes },
          });
          return ready!;
        });
      } catch (error) {
        abort.abort(error);
        part.stream.resume();
        // Let the aborted put settle first: a put still in flight could store the object after the delete.
        await stored?.catch(() => {});
        await discard(row).catch((error: unknown) =>
          logger.warn({ err: error, document_id: id }, 'could not remove a failed upload; the sweeper will'),
        );
        throw failure ?? error;
      } finally {
        signal.removeEventListener('abort', onClientGone);
      }
    },

    /** A ready document of this user, or 404 (another account's id is indistinguishable from none). */
    async get(userId: string, id: string): Promise<DocumentRow> {
      const [row] = await readyById.execute({ id, userId });
      if (!row) throw new AppError('not_found');
      return row;
    },

    /** The stored bytes of a ready document (or one range of them), streamed from the store. */
    async openContent(
      row: DocumentRow,
      range: { start: number; end: number } | undefined,
      signal: AbortSignal,
    ) {
      try {
        return await storage.get(row.storageKey, range, signal);
      } catch (error) {
        throw storageUnavailable(error);
      }
    },

    /** A presigned GET that downloads the document under `disposition` for `ttlS` seconds. */
    downloadUrl: (row: DocumentRow, disposition: string, ttlS: number) =>
      storage.presign(row.storageKey, disposition, row.contentType, ttlS),

    /** Keyset pagination on an index of (user_id, sort key, id): stable while documents are added. */
    async list(
      userId: string,
      options: {
        limit: number;
        order: DocumentOrder;
        after?: ListPosition;
        q?: string;
        contentType?: string;
      },
    ): Promise<DocumentRow[]> {
      const { order, after } = options;
      const keyset = !after
        ? undefined
        : order === 'name.asc'
          ? or(
              gt(documents.name, after.name!),
              and(eq(documents.name, after.name!), gt(documents.id, after.id)),
            )
          : order === 'created_at.asc'
            ? or(
                gt(documents.createdAt, after.createdAt!),
                and(eq(documents.createdAt, after.createdAt!), gt(documents.id, after.id)),
              )
            : or(
                lt(documents.createdAt, after.createdAt!),
                and(eq(documents.createdAt, after.createdAt!), lt(documents.id, after.id)),
              );
      const sort =
        order === 'name.asc'
          ? [asc(documents.name), asc(documents.id)]
          : order === 'created_at.asc'
            ? [asc(documents.createdAt), asc(documents.id)]
            : [desc(documents.createdAt), desc(documents.id)];
      return db
        .select()
        .from(documents)
        .where(
          and(
            eq(documents.userId, userId),
            eq(documents.status, 'ready'),
            options.q
              ? ilike(documents.name, `%${options.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
              : undefined,
            options.contentType ? eq(documents.contentType, options.contentType) : undefined,
            keyset,
          ),
        )
        .orderBy(...sort)
        .limit(options.limit);
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
        .where(
          and(
            eq(documents.id, id),
            eq(documents.userId, userId),
            eq(documents.status, 'ready'),
            expectedVersion === undefined ? undefined : eq(documents.version, expectedVersion),
          ),
        )
        .returning();
      if (row) return row;
      await this.get(userId, id); // 404 when it is not there at all
      throw new AppError('precondition_failed', { detail: 'The document changed since that ETag' });
    },

    /**
     * Removes the document from the account and releases its quota in one transaction; the object is
     * deleted after commit, and the sweeper retries what fails (the row stays as `deleting` until then).
     */
    async remove(userId: string, id: string, context: AuditContext): Promise<void> {
      const removed = await db.transaction(async (tx) => {
        const [row] = await tx
          .update(documents)
          .set({ status: 'deleting', updatedAt: new Date() })
          .where(and(eq(documents.id, id), eq(documents.userId, userId), eq(documents.status, 'ready')))
          .returning();
        if (!row) throw new AppError('not_found');
        await users.releaseQuota(tx, userId, row.sizeBytes);
        await audit.record(tx, {
          ...context,
          type: 'document.deleted',
          target: { type: 'document', id },
          data: { size_bytes: row.sizeBytes },
        });
        return row;
      });
      try {
        await storage.delete(removed.storageKey);
        await db.delete(documents).where(eq(documents.id, removed.id));
      } catch (error) {
        logger.warn(
          { err: error, document_id: removed.id },
          'object deletion failed; the sweeper will retry',
        );
      }
    },
  };
}

export type DocumentsService = ReturnType<typeof createDocumentsService>;
