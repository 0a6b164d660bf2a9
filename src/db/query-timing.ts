import type postgres from 'postgres';
import type { Logger } from '../platform/logger.ts';
import { currentRequest } from '../platform/request-context.ts';
import { operationOf, recordQuery, startQuerySpan } from '../telemetry/db.ts';
import type { PoolLoad } from '../telemetry/metrics.ts';
import { failSpan, inSpan, SpanKind } from '../telemetry/tracing.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

export type QueryTimingOptions = {
  logger: Logger;
  slowQueryMs: number;
  /** The pool's load gauge: statements outside a transaction, and transactions, count while they run. */
  pool?: PoolLoad;
};

/**
 * postgres.js has no query hooks (and drizzle 0.45's tracing is inert), so the client is wrapped: every
 * query's time is added to the current request (Server-Timing, the access log), and a query slower than
 * `slowQueryMs` is logged with its text, never its parameters. Transactions and savepoints are wrapped
 * too. Each statement is also a `db_client_operation_duration_seconds` sample and, when tracing runs, a
 * CLIENT span (its text, never its parameters); a transaction is a span around its statements.
 */
export function withQueryTiming<T extends Sql>(sql: T, options: QueryTimingOptions): T {
  const { pool } = options;
  const record = (text: string, operation: string, started: number) => {
    const ms = performance.now() - started;
    recordQuery(operation, ms / 1000);
    const request = currentRequest();
    if (request) {
      request.db.queries++;
      request.db.ms += ms;
    }
    if (ms >= options.slowQueryMs) {
      options.logger.warn({ query: text.slice(0, 2000), duration_ms: Math.round(ms) }, 'slow query');
    }
  };

  // A pending query runs when first awaited (`then`); `values()` and friends return the query itself.
  const timedQuery = (query: postgres.PendingQuery<postgres.Row[]>, text: string) => {
    const proxy: typeof query = new Proxy(query, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        if (property === 'then') {
          return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => {
            const operation = operationOf(text);
            const span = startQuerySpan(text, operation);
            if (pool) pool.busy++;
            const started = performance.now();
            return target.then(
              (result) => {
                if (pool) pool.busy--;
                record(text, operation, started);
                span?.end();
                return onFulfilled ? onFulfilled(result) : result;
              },
              (error) => {
                if (pool) pool.busy--;
                record(text, operation, started);
                failSpan(span, error);
                span?.end();
                if (onRejected) return onRejected(error);
                throw error;
              },
            );
          };
        }
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };

  const wrapCallback =
    (callback: (tx: postgres.TransactionSql) => unknown) => (tx: postgres.TransactionSql) =>
      callback(withQueryTiming(tx, { ...options, pool: undefined }));

  // Built once: `unsafe` is read on every query drizzle runs.
  const wrapped: Record<PropertyKey, unknown> = {
    unsafe: (text: string, ...rest: unknown[]) =>
      timedQuery(
        (sql.unsafe as (...a: unknown[]) => postgres.PendingQuery<postgres.Row[]>)(text, ...rest),
        text,
      ),
  };
  for (const name of ['begin', 'savepoint'] as const) {
    const original = (sql as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    if (!original) continue; // a transaction has savepoint but no begin
    wrapped[name] = (...args: unknown[]) => {
      const last = args.length - 1;
      args[last] = wrapCallback(args[last] as (tx: postgres.TransactionSql) => unknown);
      // One connection for the whole transaction; its statements are children of this span.
      return inSpan(
        name === 'begin' ? 'transaction' : 'savepoint',
        { 'db.system.name': 'postgresql' },
        async () => {
          if (pool) pool.busy++;
          try {
            return await (original.apply(sql, args) as Promise<unknown>);
          } finally {
            if (pool) pool.busy--;
          }
        },
        SpanKind.INTERNAL,
      );
    };
  }

  return new Proxy(sql, {
    get(target, property) {
      if (Object.hasOwn(wrapped, property)) return wrapped[property];
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
