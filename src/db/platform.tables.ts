import { bigint, index, integer, jsonb, pgTable, primaryKey, text, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './columns.ts';

/** Cluster-wide settings every instance polls (the runtime mode). */
export const runtimeSettings = pgTable('runtime_settings', {
  key: text().primaryKey(),
  value: jsonb().notNull(),
  updatedAt: timestamptz().notNull().defaultNow(),
  updatedBy: text(),
});

/** Idempotency-Key records, per principal, kept 24 h. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    principal: text().notNull(),
    key: text().notNull(),
    fingerprint: text().notNull(),
    // Null while the first request runs; set when its response is stored.
    responseStatus: integer(),
    responseHeaders: jsonb().$type<Record<string, string>>(),
    responseBody: text(),
    createdAt: timestamptz().notNull().defaultNow(),
    lockedUntil: timestamptz().notNull(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] })],
);

/**
 * rate-limiter-flexible's Postgres store (its column layout: `expire` in epoch ms). The migration makes
 * it UNLOGGED: counters are ephemeral, so their writes need no WAL.
 */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: varchar({ length: 255 }).primaryKey(),
    points: integer().notNull().default(0),
    expire: bigint({ mode: 'number' }),
  },
  // The limiter's periodic cleanup deletes by expiry.
  (t) => [index().on(t.expire)],
);
