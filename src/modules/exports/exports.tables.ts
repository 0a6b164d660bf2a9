import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgEnum, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { timestamptz } from '../../db/columns.ts';
import { users } from '../users/users.tables.ts';

// queued → running → succeeded | failed | canceled; succeeded → expired once EXPORT_TTL_HOURS pass.
export const exportStatus = pgEnum('export_status', [
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'expired',
]);

export const exports = pgTable(
  'exports',
  {
    id: uuid().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: exportStatus().notNull().default('queued'),
    // The selection as asked: explicit ids, a name filter, or neither (every ready document).
    documentIds: uuid().array(),
    query: text(),
    documentsTotal: integer().notNull().default(0),
    documentsDone: integer().notNull().default(0),
    bytesTotal: bigint({ mode: 'number' }).notNull().default(0),
    bytesDone: bigint({ mode: 'number' }).notNull().default(0),
    sizeBytes: bigint({ mode: 'number' }),
    sha256: text(),
    // Set only in the transaction that marks the export succeeded: before that no object is reachable.
    storageKey: text(),
    // The worker attempt that owns the row; progress writes of an older attempt match nothing.
    attempt: uuid(),
    error: jsonb().$type<{ code: string; detail: string }>(),
    createdAt: timestamptz().notNull().defaultNow(),
    updatedAt: timestamptz().notNull().defaultNow(),
    startedAt: timestamptz(),
    finishedAt: timestamptz(),
    expiresAt: timestamptz(),
    // A deleted export is hidden at once; the purge job removes its objects and the row.
    deletedAt: timestamptz(),
  },
  (t) => [
    // One queued-or-running export per account, enforced by Postgres whatever the concurrency.
    uniqueIndex('exports_one_active_idx').on(t.userId).where(sql`${t.status} in ('queued', 'running')`),
    index('exports_user_created_idx').on(t.userId, t.createdAt, t.id),
    index('exports_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'succeeded'`),
  ],
);

export type ExportRow = typeof exports.$inferSelect;

/** Every object of an export lives under this prefix (one key per attempt; the row names the finished one). */
export const exportPrefix = (row: Pick<ExportRow, 'userId' | 'id'>) => `exports/${row.userId}/${row.id}/`;
