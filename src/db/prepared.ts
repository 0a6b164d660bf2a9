import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './client.ts';

// The client's own casing, so a column renders as it does in the query builder.
const dialect = new PgDialect({ casing: 'snake_case' });

/**
 * A statement drizzle's builder cannot prepare (a data-modifying CTE, a function call), rendered to SQL
 * once and run by name with `sql.placeholder` values, on the pool or in a transaction: per call, no
 * query building, only the parameters. Rows come back raw (snake_case, as the driver decodes them;
 * `rowOf` maps a table's).
 */
export function preparedSql<Row = Record<string, unknown>>(name: string, statement: SQL) {
  const query = dialect.sqlToQuery(statement);
  return {
    text: query.sql,
    execute: (db: Db | Tx, values: Record<string, unknown>) =>
      db._.session.prepareQuery(query, undefined, name, false).execute(values) as Promise<Row[]>,
  };
}
