import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { timestamptz } from '../../db/columns.ts';

/** Case-insensitive text (extension from migration 0000): `A@x.io` and `a@x.io` are one account. */
const citext = customType<{ data: string }>({ dataType: () => 'citext' });

export const roleEnum = pgEnum('user_role', ['user', 'admin']);
export const tierEnum = pgEnum('user_tier', ['free', 'premium', 'enterprise']);

export const users = pgTable(
  'users',
  {
    id: uuid().primaryKey(),
    email: citext().notNull().unique(),
    passwordHash: text().notNull(),
    name: text(),
    role: roleEnum().notNull().default('user'),
    tier: tierEnum().notNull().default('free'),
    // The quota in force. It follows the tier unless an admin set it (`quotaCustom`).
    quotaBytes: bigint({ mode: 'number' }).notNull(),
    quotaCustom: boolean().notNull().default(false),
    bytesUsed: bigint({ mode: 'number' }).notNull().default(0),
    documentCount: integer().notNull().default(0),
    disabledAt: timestamptz(),
    createdAt: timestamptz().notNull().defaultNow(),
    updatedAt: timestamptz().notNull().defaultNow(),
  },
  (t) => [
    check('users_bytes_used_within_quota', sql`${t.bytesUsed} >= 0 and ${t.bytesUsed} <= ${t.quotaBytes}`),
    check('users_document_count_positive', sql`${t.documentCount} >= 0`),
    index('users_created_at_id_idx').on(t.createdAt.desc(), t.id.desc()),
  ],
);

export type UserRow = typeof users.$inferSelect;
