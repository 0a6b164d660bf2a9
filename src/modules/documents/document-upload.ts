// POST /v1/documents behind the route: a multipart body streamed to the store, metered and hashed on
// the way, with no half state left by any failure.
import { pipeline, type Readable, type Transform } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { newUuid, toPublicId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { AppError } from '../../platform/problem.ts';
import type { Storage } from '../../storage/storage.ts';
import type { AuditContext } from '../audit/audit.service.ts';
import { SignatureCheck, storedType } from './content-check.ts';
import { checkName, parseMetadata, storageUnavailable } from './document-fields.ts';
import type { DocumentStatements } from './documents.statements.ts';
import { type DocumentRow, documents } from './documents.tables.ts';
import { MeteredStream, receiveMultipart } from './upload-stream.ts';

export function createUpload(deps: {
  db: Db;
  storage: Storage;
  statements: DocumentStatements;
  config: Config;
  logger: Logger;
}) {
  const { db, storage, statements, logger } = deps;
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

  /** The pending upload made ready with its quota charge and audit event (one statement), or why not. */
  async function markReady(...args: Parameters<DocumentStatements['markReady']>): Promise<DocumentRow> {
    const { ready, pendingFound } = await statements.markReady(...args);
    if (ready) return ready;
    if (pendingFound)
      throw new AppError('quota_exceeded', { detail: 'Storing this document would exceed the quota' });
    // Only the sweeper removes a pending row, and only one far older than any running upload.
    throw storageUnavailable(new Error(`the pending row of ${toPublicId('doc', args[1])} is gone`));
  }

  /**
   * Streams one multipart upload to storage. A `pending` row holds the key while bytes flow; the
   * quota is charged in the statement that marks it `ready`. Any failure (size, quota, client gone,
   * storage down) aborts the upload and removes the object and the row: no half state survives.
   */
  return async function upload(
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
      const [pending] = await statements.insertPending.execute({
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
  };
}
