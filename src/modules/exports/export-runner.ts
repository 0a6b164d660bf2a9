import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, ilike, inArray, sql } from 'drizzle-orm';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import type { RuntimeModeStore } from '../../platform/runtime-mode.ts';
import { listKeys, type Storage } from '../../storage/storage.ts';
import { documents } from '../documents/documents.tables.ts';
import { createEntryNamer } from './entry-names.ts';
import { type ExportRow, exportPrefix, exports } from './exports.tables.ts';
import { type Included, manifestJson } from './manifest.ts';
import { createZipUpload } from './zip-stream.ts';

const CANCEL_CHECK_MS = 2000;
const PROGRESS_EVERY_MS = 1000;
const MODE_CHECK_MS = 1000;

export class ExportCanceled extends Error {
  override name = 'ExportCanceled';
}

/** Runs one export attempt in the worker. Returns what became of it; throws to have it retried. */
export function createExportRunner(deps: {
  db: Db;
  storage: Storage;
  runtimeMode: RuntimeModeStore;
  config: Config;
  logger: Logger;
  onBytes: (bytes: number) => void;
}) {
  const { db, storage, runtimeMode, logger } = deps;

  const stillActive = async (id: string, attempt?: string) => {
    const [row] = await db
      .select({ status: exports.status, attempt: exports.attempt, deletedAt: exports.deletedAt })
      .from(exports)
      .where(eq(exports.id, id));
    if (!row || row.deletedAt) return false;
    return attempt
      ? row.status === 'running' && row.attempt === attempt
      : row.status === 'queued' || row.status === 'running';
  };

  /** Queued exports wait while the mode is not `normal`; a running one pauses between documents. */
  async function untilNormal(signal: AbortSignal, id: string): Promise<void> {
    while (runtimeMode.mode !== 'normal') {
      signal.throwIfAborted();
      if (!(await stillActive(id))) throw new ExportCanceled();
      await sleep(MODE_CHECK_MS, undefined, { signal });
    }
  }

  const selection = (row: ExportRow) =>
    and(
      eq(documents.userId, row.userId),
      eq(documents.status, 'ready'),
      row.documentIds ? inArray(documents.id, row.documentIds) : undefined,
      row.query ? ilike(documents.name, `%${row.query.replace(/[\\%_]/g, '\\$&')}%`) : undefined,
    );

  async function run(id: string, signal: AbortSignal): Promise<'succeeded' | 'canceled'> {
    try {
      await untilNormal(signal, id);
    } catch (error) {
      if (error instanceof ExportCanceled) return 'canceled';
      throw error;
    }
    const claimable = and(
      eq(exports.id, id),
      inArray(exports.status, ['queued', 'running']),
      sql`${exports.deletedAt} is null`,
    );
    const [pending] = await db.select().from(exports).where(claimable);
    if (!pending) return 'canceled';
    // The selection first, so that a `running` export always shows its totals.
    const docs = await db
      .select({
        id: documents.id,
        name: documents.name,
        contentType: documents.contentType,
        size: documents.sizeBytes,
        storageKey: documents.storageKey,
        updatedAt: documents.updatedAt,
      })
      .from(documents)
      .where(selection(pending))
      .orderBy(asc(documents.createdAt), asc(documents.id));
    const bytesTotal = docs.reduce((sum, doc) => sum + doc.size, 0);
    const attempt = newUuid();
    const [row] = await db
      .update(exports)
      .set({
        status: 'running',
        attempt,
        startedAt: sql`coalesce(${exports.startedAt}, now())`,
        documentsTotal: docs.length,
        bytesTotal,
        documentsDone: 0,
        bytesDone: 0,
        updatedAt: new Date(),
      })
      .where(claimable)
      .returning();
    if (!row) return 'canceled';

    const controller = new AbortController();
    const onSignal = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onSignal, { once: true });
    const watcher = setInterval(() => {
      stillActive(id, attempt).then(
        (active) => active || controller.abort(new ExportCanceled()),
        () => {},
      );
    }, CANCEL_CHECK_MS);
    const key = `${exportPrefix(row)}${attempt}.zip`;
    const zip = createZipUpload({
      storage,
      key,
      expectedBytes: bytesTotal + docs.length * 200,
      forceZip64: deps.config.exports.forceZip64,
      signal: controller.signal,
      onBytes: deps.onBytes,
    });
    const name = createEntryNamer();
    const included: Included[] = [];
    const omitted: { id: string; name: string }[] = [];
    let bytesDone = 0;
    let reported = Date.now();
    const report = async (force = false) => {
      if (!force && Date.now() - reported < PROGRESS_EVERY_MS) return;
      reported = Date.now();
      await db
        .update(exports)
        .set({ documentsDone: included.length + omitted.length, bytesDone, updatedAt: new Date() })
        .where(and(eq(exports.id, id), eq(exports.attempt, attempt)));
    };
    try {
      for (const doc of docs) {
        await untilNormal(controller.signal, id);
        controller.signal.throwIfAborted();
        // A document deleted since the export started is left out (and the manifest says so).
        const [current] = await db
          .select({ status: documents.status })
          .from(documents)
          .where(eq(documents.id, doc.id));
        const source =
          current?.status === 'ready'
            ? await storage.get(doc.storageKey, undefined, controller.signal).catch((error: unknown) => {
                if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
                throw error;
              })
            : undefined;
        if (!source) {
          omitted.push({ id: doc.id, name: doc.name });
          continue;
        }
        const path = name(doc.name);
        const digest = await zip.add({ path, size: doc.size, mtime: doc.updatedAt }, source);
        included.push({
          id: doc.id,
          name: doc.name,
          path,
          contentType: doc.contentType,
          size: digest.bytes,
          sha256: digest.sha256,
        });
        bytesDone += digest.bytes;
        await report();
      }
      const archive = await zip.finish(
        'manifest.json',
        Readable.from(manifestJson(db, row, included, omitted)),
      );
      const [done] = await db
        .update(exports)
        .set({
          status: 'succeeded',
          storageKey: key,
          sizeBytes: archive.sizeBytes,
          sha256: archive.sha256,
          documentsDone: included.length + omitted.length,
          bytesDone,
          finishedAt: new Date(),
          expiresAt: sql`now() + make_interval(hours => ${deps.config.exports.ttlHours})`,
          updatedAt: new Date(),
        })
        .where(and(eq(exports.id, id), eq(exports.attempt, attempt), eq(exports.status, 'running')))
        .returning({ id: exports.id });
      if (!done) {
        // Canceled or deleted just before the end: the finished object must not outlive it.
        await removeObjects(row);
        return 'canceled';
      }
      // Objects of earlier attempts that completed but never committed (a crash at the very end).
      await removeObjects(row, key).catch((error: unknown) =>
        logger.warn({ err: error, export_id: id }, 'could not remove an earlier attempt’s object'),
      );
      logger.info(
        { export_id: id, documents: included.length, omitted: omitted.length, size_bytes: archive.sizeBytes },
        'export succeeded',
      );
      return 'succeeded';
    } catch (error) {
      zip.abort(error);
      await storage.delete(key).catch(() => {});
      if (controller.signal.reason instanceof ExportCanceled || error instanceof ExportCanceled) {
        logger.info({ export_id: id }, 'export canceled: upload aborted, no object left');
        return 'canceled';
      }
      throw error;
    } finally {
      clearInterval(watcher);
      signal.removeEventListener('abort', onSignal);
    }
  }

  /** Every object under the export's prefix, but `keep`. */
  async function removeObjects(row: Pick<ExportRow, 'userId' | 'id'>, keep?: string): Promise<void> {
    for (const key of await listKeys(storage, exportPrefix(row))) if (key !== keep) await storage.delete(key);
  }

  /** Called once retries are exhausted (from the dead-letter queue). */
  async function markFailed(id: string, detail: string): Promise<void> {
    const [row] = await db
      .update(exports)
      .set({
        status: 'failed',
        error: { code: 'export_failed', detail },
        finishedAt: new Date(),
        updatedAt: new Date(),
      })
      .where(and(eq(exports.id, id), inArray(exports.status, ['queued', 'running'])))
      .returning();
    // Whatever an attempt left goes now if the store answers; otherwise the purge removes it with the row.
    if (row) {
      await removeObjects(row).catch((error: unknown) =>
        logger.warn({ err: error, export_id: id }, 'could not remove a failed export’s objects'),
      );
    }
  }

  return { run, markFailed, removeObjects };
}

export type ExportRunner = ReturnType<typeof createExportRunner>;
