// `pnpm dev`: everything a bare machine needs. Starts embedded Postgres and s3rver (unless DATABASE_URL /
// S3_ENDPOINT point elsewhere), migrates, then runs the API and restarts it when a file under src/
// changes. Ctrl-C or SIGTERM stops everything it started.
import { type ChildProcess, spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../config.ts';
import { migrateDatabase } from '../db/migrations.ts';
import { createStorage } from '../storage/storage.ts';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.ts';
import { type EmbeddedS3Handle, startEmbeddedS3 } from './embedded-s3.ts';
import { freePort } from './free-port.ts';

const say = (message: string) => console.error(`[dev] ${message}`);

/** A URL without its password, for printing. */
const redacted = (url: string) => {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
};

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  say(error instanceof ConfigError ? error.message : String(error));
  process.exit(1);
}

const stack: {
  postgres?: EmbeddedPostgresHandle;
  s3?: EmbeddedS3Handle;
  api?: ChildProcess;
  worker?: ChildProcess;
} = {};
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  say('stopping…');
  await Promise.all(
    [stack.api, stack.worker].map(async (child) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }),
  );
  await Promise.allSettled([stack.s3?.stop(), stack.postgres?.stop()]);
  say('stopped');
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));
// If whatever started us (pnpm, a terminal) dies without a signal reaching us, don't outlive it.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stopAll(0), 1000).unref();

try {
  const env: Record<string, string> = {};
  if (!config.database.url) {
    const started = performance.now();
    stack.postgres = await startEmbeddedPostgres({
      dir: join(config.dataDir, 'postgres'),
      port: await freePort(54320),
    });
    await stack.postgres.ensureDatabase('stowage');
    env.DATABASE_URL = stack.postgres.url('stowage');
    say(`embedded Postgres on port ${stack.postgres.port} (${Math.round(performance.now() - started)} ms)`);
  }
  if (!config.s3.endpoint) {
    stack.s3 = await startEmbeddedS3({ dir: join(config.dataDir, 's3'), port: await freePort(54321) });
    env.S3_ENDPOINT = stack.s3.endpoint;
    const storage = createStorage({ ...config.s3, endpoint: stack.s3.endpoint });
    await storage.ensureBucket();
    storage.close();
    say(`embedded S3 (s3rver) at ${stack.s3.endpoint}, bucket ${config.s3.bucket}`);
  }
  await migrateDatabase(env.DATABASE_URL ?? config.database.url!);
  say('migrations applied');

  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const apiEnv = { ...process.env, ...env };
  // The embedded database's URL is a local dev credential, printed whole for psql; an external one is not.
  say(`database ${env.DATABASE_URL ?? redacted(config.database.url!)}`);
  let restarting = false;
  const startApi = () => {
    // Its own process group: a terminal's Ctrl-C reaches only this supervisor, which then stops the API
    // gracefully before the databases it needs.
    const api = spawn(process.execPath, [main], { env: apiEnv, stdio: 'inherit', detached: true });
    stack.api = api;
    api.once('exit', (code) => {
      if (!stopping && !restarting) say(`API exited (${code}); fix the code and save: it restarts on change`);
    });
  };
  const restart = async (file: string) => {
    if (stopping || restarting) return;
    restarting = true;
    say(`${file} changed: restarting the API`);
    const api = stack.api;
    if (api && api.exitCode === null && api.signalCode === null) {
      const exited = new Promise((done) => api.once('exit', done));
      api.kill('SIGTERM');
      const force = setTimeout(() => api.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    restarting = false;
    if (!stopping) startApi();
  };
  startApi();
  // node --watch watches each imported file; an editor's atomic save (write a copy, rename it over) or a
  // `git checkout` replaces the file's inode and that watch goes quiet for good. A recursive watch of the
  // directory sees every replacement, new files and new directories included.
  const srcDir = fileURLToPath(new URL('..', import.meta.url));
  let pending: NodeJS.Timeout | undefined;
  watch(srcDir, { recursive: true }, (_event, filename) => {
    if (!filename || !/\.(ts|json|sql)$/.test(filename)) return; // editor swap and backup files
    clearTimeout(pending);
    pending = setTimeout(() => void restart(join('src', filename)), 150);
  });

  // The background worker beside it, with reload too; its internal listener on 9465 (the API's is 9464),
  // or a free port when another stack holds it.
  const workerPort = await freePort(9465);
  say(`worker: health and metrics on http://127.0.0.1:${workerPort}/metrics`);
  stack.worker = spawn(
    process.execPath,
    ['--watch', '--watch-preserve-output', fileURLToPath(new URL('../jobs/worker.ts', import.meta.url))],
    {
      env: { ...process.env, METRICS_PORT: String(workerPort), ...env },
      stdio: 'inherit',
      detached: true,
    },
  );
  stack.worker.once('exit', (code) => {
    if (!stopping) {
      say(`worker exited (${code}); stopping`);
      void stopAll(code ?? 1);
    }
  });

  const probeHost = ['0.0.0.0', '::'].includes(config.host) ? '127.0.0.1' : config.host;
  const base = `http://localhost:${config.port}`;
  for (let attempt = 0; attempt < 600 && !stopping; attempt++) {
    const ready = await fetch(`http://${probeHost}:${config.port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) {
      say(`ready — API ${base}  docs ${base}/docs  (Ctrl-C stops everything)`);
      break;
    }
    await sleep(100);
  }
} catch (error) {
  say(`start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAll(1);
}
