// The background worker for tests: in the test's own process (for files that only need jobs to run),
// or as real processes (for schedules, retries across workers, SIGTERM).
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { type Env, loadConfig } from '../../src/config.ts';
import { type RunningWorker, startWorker } from '../../src/jobs/start-worker.ts';
import { captureLogs, type TestServer, testEnv } from './harness.ts';
import { spawnServer } from './spawn.ts';

export const WORKER = fileURLToPath(new URL('../../src/jobs/worker.ts', import.meta.url));

/** Env that points a worker at `server`'s database and bucket, polling fast. */
export const workerEnv = (server: TestServer, env: Env = {}): Record<string, string> => ({
  DATABASE_URL: server.config.database.url!,
  S3_BUCKET: server.config.s3.bucket,
  METRICS_PORT: '0',
  JOBS_POLL_INTERVAL_MS: '500',
  RUNTIME_MODE_POLL_MS: '500',
  ...(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>),
});

/** An in-process worker on `server`'s database and bucket, stopped after the file. */
export async function startTestWorker(
  server: TestServer,
  env: Env = {},
): Promise<RunningWorker & { logs: ReturnType<typeof captureLogs> }> {
  const config = loadConfig(await testEnv(workerEnv(server, env)));
  const logs = captureLogs();
  const worker = await startWorker({ config, logger: logs.logger });
  afterAll(() => worker.shutdown('test finished'));
  return { ...worker, logs };
}

/** A real `src/jobs/worker.ts` process; killed after each test unless it exited already. */
export const spawnWorker = (server: TestServer, env: Env = {}) => spawnServer(workerEnv(server, env), WORKER);
