import postgres from 'postgres';

/**
 * The limiter's own small pool. Its connections run with `synchronous_commit = off`: a counter write
 * then never waits for a WAL flush (the table is UNLOGGED too), which otherwise caps one hot key near
 * 1000 decisions/s and adds about a millisecond to every request. A short statement timeout keeps a
 * stuck database from holding requests: the insurance limiter answers instead.
 */
export function createLimiterPool(url: string, max: number) {
  const sql = postgres(url, {
    max,
    connect_timeout: 2,
    idle_timeout: 60,
    connection: {
      application_name: 'stowage-limiter',
      synchronous_commit: 'off',
      statement_timeout: 1000,
    },
    onnotice: () => {},
  });
  /** rate-limiter-flexible's `pg`-style client (`query({ text, values })` → `{ rows, rowCount }`). */
  const client = {
    async query(query: { text: string; values?: unknown[] }) {
      const rows = await sql.unsafe(query.text, (query.values ?? []) as postgres.ParameterOrJSON<never>[], {
        prepare: true,
      });
      return { rows, rowCount: rows.count };
    },
  };
  return { client, close: () => sql.end({ timeout: 2 }) };
}
