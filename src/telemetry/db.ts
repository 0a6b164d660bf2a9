// The postgres.js seam: a CLIENT span and a duration sample per statement.
import { dbOperationDuration } from './metrics.ts';
import { type Span, startSpan } from './tracing.ts';

const OPERATIONS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'WITH',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'LISTEN',
  'UNLISTEN',
  'NOTIFY',
  'SET',
  'SHOW',
  'LOCK',
  'VALUES',
  'CALL',
  'DO',
  'EXPLAIN',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'COPY',
  'VACUUM',
  'ANALYZE',
]);

/** The statement's SQL verb (bounded: anything unknown is `OTHER`). */
export function operationOf(text: string): string {
  const verb = /^\s*\(?\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase();
  return verb && OPERATIONS.has(verb) ? verb : 'OTHER';
}

/**
 * A span for one statement: its text as sent (drizzle and postgres.js pass every value as a `$n`
 * parameter, so the text holds no values; the parameters are never recorded).
 */
export const startQuerySpan = (text: string, operation: string): Span | undefined =>
  startSpan(operation, {
    'db.system.name': 'postgresql',
    'db.operation.name': operation,
    'db.query.text': text.length > 4000 ? `${text.slice(0, 4000)}…` : text,
  });

export function recordQuery(operation: string, seconds: number): void {
  dbOperationDuration.observe({ db_operation_name: operation }, seconds);
}
