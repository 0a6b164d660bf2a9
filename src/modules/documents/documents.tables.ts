import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { timestamptz } from '../../db/columns.ts';
import { users } from '../users/users.tables.ts';

// pending: bytes are streaming to storage, no quota charged yet. ready: stored and charged.
// deleting: removed from the account (quota released), the object is still to be deleted.
export const documentStatus = pgEnum('document_status', ['pending', 'ready', 'deleting']);

export const documents = pgTable(
  'documents',
  {
    id: uuid().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    contentType: text().notNull(),
    sizeBytes: bigint({ mode: 'number' }).notNull().default(0),
    sha256: text(),
    storageKey: text().notNull().unique(),
    status: documentStatus().notNull().default('pending'),
    metadata: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    version: integer().notNull().default(1),
    createdAt: timestamptz().notNull().defaultNow(),
    updatedAt: timestamptz().notNull().defaultNow(),
  },
  (t) => [
    index('documents_user_created_idx').on(t.userId, t.createdAt, t.id),
    index('documents_user_name_idx').on(t.userId, t.name, t.id),
    index('documents_name_trgm_idx').using('gin', sql`${t.name} gin_trgm_ops`),
    index('documents_leftovers_idx').on(t.status, t.updatedAt).where(sql`${t.status} <> 'ready'`),
  ],
);

export type DocumentRow = typeof documents.$inferSelect;
