import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Config } from '../config.ts';
import { dbPools } from '../telemetry/metrics.ts';
import { type QueryTimingOptions, withQueryTiming } from './query-timing.ts';
import * as schema from './schema.ts';

export type Database = ReturnType<typeof createDatabase>;

/** The API's pool. Every connection carries the statement timeout, so no query outlives a request. */
export function createDatabase(config: Config['database'] & { url: string }, timing?: QueryTimingOptions) {
  const raw = postgres(config.url, {
    max: config.poolMax,
    connect_timeout: config.connectTimeoutS,
    idle_timeout: config.idleTimeoutS,
    max_lifetime: config.maxLifetimeS || null,
    // postgres.js waits 3^n/100 s (up to 20 s) before reconnecting a failed connection, and queued
    // queries wait with it: a Postgres outage turned into requests hanging for 10 s and more. Retry
    // within a quarter second instead, so each waiting query fails fast (503) or succeeds as soon as
    // Postgres is back.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.25),
    connection: { application_name: 'stowage-api', statement_timeout: config.statementTimeoutMs },
    onnotice: () => {},
  });
  const pool = { busy: 0, max: config.poolMax };
  const sql = timing ? withQueryTiming(raw, { ...timing, pool }) : raw;
  if (timing) dbPools.add(pool);
  const db = drizzle(sql, { schema, casing: 'snake_case' });

  return {
    url: config.url,
    sql,
    db,
    /** One round trip, abandoned (and cancelled server-side) when `signal` fires. */
    async ping(signal: AbortSignal): Promise<void> {
      await withAbort(sql`select 1`, signal);
    },
    close: (timeoutS = 5) => {
      dbPools.delete(pool);
      return sql.end({ timeout: timeoutS });
    },
  };
}

/** Races a postgres.js query against `signal`; on abort the query is cancelled in Postgres too. */
export async function withAbort<T>(
  query: Promise<T> & { cancel(): unknown },
  signal: AbortSignal,
): Promise<T> {
  signal.throwIfAborted();
  const onAbort = () => query.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      query,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      ),
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export type Db = Database['db'];
/** A transaction handle; services that must join the caller's transaction take `Db | Tx`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
