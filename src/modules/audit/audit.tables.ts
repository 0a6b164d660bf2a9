import { bigserial, index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { timestamptz } from '../../db/columns.ts';

/**
 * Append-only and hash-chained: each row's `hash` covers its content and the previous row's hash, so
 * editing or deleting a row breaks every hash after it. `seq` is the chain order.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid().primaryKey(),
    seq: bigserial({ mode: 'number' }).notNull().unique(),
    type: text().notNull(),
    actorId: uuid(),
    targetType: text(),
    targetId: text(),
    clientIp: text(),
    requestId: text(),
    data: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamptz().notNull(),
    prevHash: text().notNull(),
    hash: text().notNull(),
  },
  (t) => [
    index('audit_events_actor_seq_idx').on(t.actorId, t.seq),
    index('audit_events_type_seq_idx').on(t.type, t.seq),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
