import { type Column, getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';
import { toSnakeCase } from 'drizzle-orm/casing';

// Per table, once: each property with the driver's name of its column (the schema names columns by their
// keys and the client maps them, casing: 'snake_case') and the column's decoder.
const layouts = new WeakMap<Table, [key: string, name: string, column: Column][]>();

function layoutOf(table: Table) {
  let layout = layouts.get(table);
  if (!layout) {
    layout = Object.entries(getTableColumns(table)).map(([key, column]) => [
      key,
      column.keyAsName ? toSnakeCase(key) : column.name,
      column,
    ]);
    layouts.set(table, layout);
  }
  return layout;
}

/**
 * A table's row from a raw driver row (`preparedSql`, snake_case names), through each column's own
 * decoder: what drizzle's query builder returns, for a statement it cannot build (data-modifying CTEs).
 */
export function rowOf<T extends Table>(table: T, raw: Record<string, unknown>): InferSelectModel<T> {
  const row: Record<string, unknown> = {};
  for (const [key, name, column] of layoutOf(table)) {
    const value = raw[name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<T>;
}
