import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { installJobs } from '../jobs/boss.ts';
import { withAbort } from './client.ts';

/** drizzle/ of the project root, found upwards from this file: the same from src/db/ and the dist/ bundle. */
export const MIGRATIONS_FOLDER = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) {
    if (dirname(dir) === dir) throw new Error('drizzle/meta/_journal.json not found above the running code');
    dir = dirname(dir);
  }
  return join(dir, 'drizzle');
})();

// Any constant works; it only has to be the same for every process that migrates this database.
const MIGRATION_LOCK_ID = 0x5709_a6e;

/** Applies pending migrations. Concurrent callers queue on an advisory lock instead of racing. */
export async function migrateDatabase(url: string): Promise<void> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'stowage-migrate' },
  });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
    // The job queue's schema belongs to pg-boss (its own versioned migrations), under the same lock.
    await installJobs(url);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** `when` of the newest migration shipped with this build (drizzle stores it as `created_at`). */
export const latestMigrationTime = (): number => {
  const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, 'utf8')) as {
    entries: { when: number }[];
  };
  return Math.max(0, ...journal.entries.map((entry) => entry.when));
};

/** True when the database has every migration this build ships (a newer database also counts). */
export async function isAtHead(sql: postgres.Sql, signal: AbortSignal, head = latestMigrationTime()) {
  try {
    const rows = await withAbort(
      sql<
        { latest: string | null }[]
      >`select max(created_at)::text as latest from drizzle.__drizzle_migrations`,
      signal,
    );
    return Number(rows[0]?.latest ?? 0) >= head;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return false; // never migrated
    throw error;
  }
}
