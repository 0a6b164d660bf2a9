import { pipeline, type Readable, type Transform } from 'node:stream';
import { and, asc, desc, eq, gt, ilike, lt, or, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { preparedSql } from '../../db/prepared.ts';
import { rowOf } from '../../db/rows.ts';
import { newUuid, toPublicId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import { findUnstorableText, isStorableText, UNSTORABLE_MESSAGE } from '../../platform/storable-text.ts';
import type { Storage } from '../../storage/storage.ts';
import {
  AUDIT_APPEND,
  type AuditContext,
  type AuditEvent,
  type AuditService,
  auditAppendValues,
} from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { SignatureCheck, storedType } from './content-check.ts';
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

const stale = () =>
  new AppError('precondition_failed', {
    detail:
      'The document changed since that ETag (If-Match). GET it again for the current ETag, then retry with that.',
  });

function parseMetadata(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) throw invalidField('metadata', 'At most 4 KiB');
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const bad = findUnstorableText(value);
      if (bad !== undefined) throw invalidField(bad ? `metadata.${bad}` : 'metadata', UNSTORABLE_MESSAGE);
      return value as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
  }
  throw invalidField('metadata', 'Must be a JSON object');
}

export function checkName(name: string, path = 'name'): string {
  const trimmed = name.trim();
  // \p{Cc} includes NUL; an unpaired surrogate cannot be stored either (issue 10 #5).
  if (!trimmed || trimmed.length > NAME_MAX || /\p{Cc}/u.test(trimmed) || !isStorableText(trimmed)) {
    throw invalidField(path, `1–${NAME_MAX} characters, no control characters`);
  }
  return trimmed;
}

export function createDocumentsService(deps: {
  db: Db;
  storage: Storage;
  users: UsersService;
  audit: AuditService;
  config: Config;
  logger: Logger;
}) {
  const { db, storage, users, audit, logger } = deps;
  const { maxUploadBytes, allowedContentTypes, bodyIdleTimeoutMs } = deps.config.documents;

  /**
   * Removes an upload that did not complete: its object first, then its row. The object is deleted even
   * when the put reported a failure: a put whose answer was lost (the store stopped or the connection
   * broke after it had the bytes) may have stored it, and deleting a missing key is a no-op. If that
   * delete fails, the row stays, so the sweeper retries both.
   *
   * When the store itself failed the put, asking it to delete now would only add its timeout to the
   * answer: the row is handed to the sweeper instead (`deleting`, as for a failed document delete),
   * which removes the key and the row once the store answers again.
   */
  async function discard(row: Pick<DocumentRow, 'id' | 'storageKey'>, storeFailed: boolean): Promise<void> {
    const where = and(eq(documents.id, row.id), eq(documents.status, 'pending'));
    if (storeFailed) {
      await db.update(documents).set({ status: 'deleting', updatedAt: new Date() }).where(where);
      return;
    }
    try {
      await storage.delete(row.storageKey);
    } catch (error) {
      logger.warn(
        { err: error, document_id: toPublicId('doc', row.id) },
        'could not delete the object of a failed upload; the sweeper will',
      );
      return;
    }
    await db.delete(documents).where(where);
  }

  /** This user's ready document `id`, at `expectedVersion` when an If-Match names one. */
  const readyAt = (userId: string, id: string, expectedVersion: number | undefined) =>
    and(
      eq(documents.id, id),
      eq(documents.userId, userId),
      eq(documents.status, 'ready'),
      expectedVersion === undefined ? undefined : eq(documents.version, expectedVersion),
    );

  const P = sql.placeholder;

  /**
   * Makes a pending upload `ready`, charges its quota and records its audit event in ONE statement (one
   * round trip, atomic as a transaction): the pending row is locked first, the quota is charged only if
   * it is there, the row is marked only if the charge went through, and the event is appended only for a
   * row marked ready. The audit chain's lock is taken inside that statement and released by its commit.
   */
  const markReadyStatement = preparedSql(
    'documents_mark_ready',
    sql`
      with pending as (${db
        .select({ id: documents.id })
        .from(documents)
        .where(and(eq(documents.id, P('id')), eq(documents.status, 'pending')))
        .for('update')
        .getSQL()}),
      charged as (${users.quotaCharge(P('user_id'), P('size'), sql`exists (select 1 from pending)`).getSQL()}),
      ready as (${db
        .update(documents)
        .set({
          status: 'ready',
          sizeBytes: sql`${P('size')}`,
          sha256: sql`${P('sha256')}`,
          metadata: sql`${P('metadata')}::jsonb`,
          name: sql`coalesce(${P('name')}, ${documents.name})`,
          updatedAt: sql`${P('updated_at')}::timestamptz`,
        })
        .where(and(sql`${documents.id} in (select id from pending)`, sql`exists (select 1 from charged)`))
        .returning()
        .getSQL()}),
      audit as (select ${AUDIT_APPEND} as audit_seq from ready)
      select ready.*, audit.audit_seq, (select count(*) from pending)::int as pending_found
      from (select 1) as one left join ready on true left join audit on true`,
  );

  async function markReady(
    userId: string,
    id: string,
    changes: Pick<DocumentRow, 'sizeBytes' | 'sha256' | 'metadata'> & { name?: string },
    event: AuditEvent,
  ): Promise<DocumentRow> {
    const [result] = await markReadyStatement.execute(db, {
      id,
      user_id: userId,
      size: changes.sizeBytes,
      sha256: changes.sha256,
      metadata: JSON.stringify(changes.metadata),
      name: changes.name ?? null,
      updated_at: new Date().toISOString(),
      ...auditAppendValues(event),
    });
    if (result?.audit_seq != null) return rowOf(documents, result);
    if (result?.pending_found)
      throw new AppError('quota_exceeded', { detail: 'Storing this document would exceed the quota' });
    // Only the sweeper removes a pending row, and only one far older than any running upload.
    throw storageUnavailable(new Error(`the pending row of ${toPublicId('doc', id)} is gone`));
  }

  // The pending row that holds the key while bytes flow, and the quota left, in one round trip.
  const insertPending = db
    .insert(documents)
    .values({
      id: P('id'),
      userId: P('user_id'),
      storageKey: P('storage_key'),
      name: P('name'),
      contentType: P('content_type'),
    })
    .returning({ remaining: users.remainingQuota(P('user_id')) })
    .prepare('documents_insert_pending');

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

  // A page of the list is the second-hottest read: one prepared statement per shape of the query (order ×
  // cursor × filters, 24 at most), built on first use, so drizzle does not rebuild the SQL each time.
  const pages = new Map<string, ReturnType<typeof preparePage>>();
  type PageShape = { order: DocumentOrder; after: boolean; q: boolean; contentType: boolean };
  const pageQuery = (shape: PageShape) => {
    const key = `${shape.order}:${+shape.after}${+shape.q}${+shape.contentType}`;
    const known = pages.get(key);
    if (known) return known;
    const query = preparePage(shape, `documents_page_${key.replace(/\W/g, '_')}`);
    pages.set(key, query);
    return query;
  };
  function preparePage({ order, after, q, contentType }: PageShape, name: string) {
    const [id, createdAt, docName] = ['afterId', 'afterCreatedAt', 'afterName'].map((p) =>
      sql.placeholder(p),
    );
    const keyset = !after
      ? undefined
      : order === 'name.asc'
        ? or(gt(documents.name, docName!), and(eq(documents.name, docName!), gt(documents.id, id!)))
        : order === 'created_at.asc'
          ? or(
              gt(documents.createdAt, createdAt!),
              and(eq(documents.createdAt, createdAt!), gt(documents.id, id!)),
            )
          : or(
              lt(documents.createdAt, createdAt!),
              and(eq(documents.createdAt, createdAt!), lt(documents.id, id!)),
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
          eq(documents.userId, sql.placeholder('userId')),
          eq(documents.status, 'ready'),
          q ? ilike(documents.name, sql.placeholder('q')) : undefined,
          contentType ? eq(documents.contentType, sql.placeholder('contentType')) : undefined,
          keyset,
        ),
      )
      .orderBy(...sort)
      .limit(sql.placeholder('limit'))
      .prepare(name);
  }

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
      // Reading starts before any await: from here on, every error of the body has a listener.
      const received = receiveMultipart(request.contentType, request.body, {
        idleTimeoutMs: bodyIdleTimeoutMs,
      });
      const part = await received.file;
      let contentType: string;
      try {
        contentType = storedType(part, allowedContentTypes);
      } catch (error) {
        received.stop();
        throw error;
      }

      const id = newUuid();
      const row = { id, storageKey: `documents/${userId}/${id}` };
      let remaining: number;
      try {
        const [pending] = await insertPending.execute({
          id,
          user_id: userId,
          storage_key: row.storageKey,
          name: part.filename.trim() ? checkName(part.filename, 'file') : 'untitled',
          content_type: contentType,
        });
        remaining = pending?.remaining ?? 0;
      } catch (error) {
        received.stop();
        throw error;
      }
      const limit = Math.min(maxUploadBytes, remaining);
      const metered = new MeteredStream(limit, () =>
        remaining < maxUploadBytes
          ? new AppError('quota_exceeded', { detail: 'Storing this document would exceed the quota' })
          : new AppError('payload_too_large', { detail: `Documents are limited to ${maxUploadBytes} bytes` }),
      );

      const abort = new AbortController();
      const onClientGone = () => abort.abort(new AppError('bad_request', { detail: 'The client went away' }));
      signal.addEventListener('abort', onClientGone, { once: true });
      // The first of our own refusals (size, quota, type, a bad field, a body cut short) is the answer;
      // the stream errors that follow from it (or from the store failing) are consequences, not causes.
      let failure: AppError | undefined;
      const failWith = (error: unknown) => {
        if (error instanceof AppError) failure ??= error;
        abort.abort(error);
      };
      received.fields.catch(failWith);
      // pipeline() hands every stage's error to one callback and destroys the others, so the store's
      // reader always ends (lib-storage rejects) instead of waiting on a source that died.
      const stages = allowedContentTypes.length
        ? [part.stream, new SignatureCheck(contentType, allowedContentTypes), metered]
        : [part.stream, metered];
      const source = pipeline(stages as [Readable, Transform], (error) => {
        if (error) failWith(error);
      }) as unknown as Readable;
      let stored: Promise<void> | undefined;
      let storeFailed = false;
      try {
        stored = storage.put(row.storageKey, source, contentType, abort.signal).catch((error) => {
          storeFailed = !failure && !(error instanceof AppError);
          throw failure ?? (error instanceof AppError ? error : storageUnavailable(error));
        });
        const [, fields] = await Promise.all([stored, received.fields]);
        // An empty optional field is an absent one: HTML forms and generated snippets send them empty.
        const name = fields.get('name')?.trim() ? checkName(fields.get('name')!) : undefined;
        const metadata = parseMetadata(fields.get('metadata')?.trim() || undefined);
        return await markReady(
          userId,
          id,
          { sizeBytes: metered.bytes, sha256: metered.sha256, metadata, ...(name ? { name } : {}) },
          {
            ...context,
            type: 'document.created',
            target: { type: 'document', id },
            data: { size_bytes: metered.bytes },
          },
        );
      } catch (error) {
        // Taken first: stopping the parser below rejects `fields` once more, with nothing to say.
        const answer = failure ?? error;
        abort.abort(error);
        received.stop();
        source.destroy();
        // Let the aborted put settle first: a put still in flight could store the object after the delete.
        await stored?.catch(() => {});
        await discard(row, storeFailed).catch((error: unknown) =>
          logger.warn(
            { err: error, document_id: toPublicId('doc', id) },
            'could not remove a failed upload; the sweeper will',
          ),
        );
        throw answer;
      } finally {
        signal.removeEventListener('abort', onClientGone);
      }
    },

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
