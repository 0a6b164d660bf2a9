import { inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { toPublicId } from '../../platform/ids.ts';
import { documents } from '../documents/documents.tables.ts';
import type { ExportRow } from './exports.tables.ts';

const MANIFEST_PAGE = 500;

/** A document written into the archive: what the manifest says about it (hash of the bytes written). */
export type Included = {
  id: string;
  name: string;
  path: string;
  contentType: string;
  size: number;
  sha256: string;
};

/**
 * `manifest.json`, produced in pieces: metadata (up to 4 KiB a document) is read a page at a time, so an
 * export of many documents never holds all of it.
 */
export async function* manifestJson(
  db: Db,
  row: ExportRow,
  included: Included[],
  omitted: { id: string; name: string }[],
) {
  yield `{"export":${JSON.stringify({ id: toPublicId('exp', row.id), created_at: row.createdAt.toISOString() })},"documents":[`;
  for (let start = 0; start < included.length; start += MANIFEST_PAGE) {
    const page = included.slice(start, start + MANIFEST_PAGE);
    const metadata = new Map(
      (
        await db
          .select({ id: documents.id, metadata: documents.metadata })
          .from(documents)
          .where(
            inArray(
              documents.id,
              page.map((entry) => entry.id),
            ),
          )
      ).map((doc) => [doc.id, doc.metadata]),
    );
    yield page
      .map(
        (entry, index) =>
          `${start + index ? ',' : ''}${JSON.stringify({
            id: toPublicId('doc', entry.id),
            name: entry.name,
            path: entry.path,
            content_type: entry.contentType,
            size_bytes: entry.size,
            sha256: entry.sha256,
            metadata: metadata.get(entry.id) ?? {},
          })}`,
      )
      .join('');
  }
  const left = omitted.map((doc) => ({ id: toPublicId('doc', doc.id), name: doc.name, reason: 'deleted' }));
  yield `],"omitted":${JSON.stringify(left)}}\n`;
}
