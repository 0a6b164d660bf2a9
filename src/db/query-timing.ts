import type postgres from 'postgres';
import type { Logger } from '../platform/logger.ts';
import { currentRequest } from '../platform/request-context.ts';

type Sql = postgres.Sql | postgres.TransactionSql;

export type QueryTimingOptions = { logger: Logger; slowQueryMs: number };

/**
 * postgres.js has no query hooks (and drizzle 0.45's tracing is inert), so the client is wrapped: every
 * query's time is added to the current request (Server-Timing, the access log), and a query slower than
 * `slowQueryMs` is logged with its text, never its parameters. Transactions and savepoints are wrapped
 * too. The later OpenTelemetry span per query belongs here as well.
 */
export function withQueryTiming<T extends Sql>(sql: T, options: QueryTimingOptions): T {
  const record = (text: string, started: number) => {
    const ms = performance.now() - started;
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
            const started = performance.now();
            return target.then(
              (result) => {
                record(text, started);
                return onFulfilled ? onFulfilled(result) : result;
              },
              (error) => {
                record(text, started);
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
      callback(withQueryTiming(tx, options));

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
      return original.apply(sql, args);
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
