// The background worker for tests: in the test's own process (for files that only need jobs to run),
// or as real processes (for schedules, retries across workers, SIGTERM).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { type Env, loadConfig } from '../../src/config.ts';
import { type RunningWorker, startWorker } from '../../src/jobs/start-worker.ts';
import { captureLogs, type TestServer, testEnv } from './harness.ts';

export const WORKER = fileURLToPath(new URL('../../src/jobs/worker.ts', import.meta.url));

/** Env that points a worker at `server`'s database and bucket, polling fast. */
export const workerEnv = (server: TestServer, env: Env = {}): Record<string, string> => ({
  DATABASE_URL: server.config.database.url!,
  S3_BUCKET: server.config.s3.bucket,
  METRICS_PORT: '0',
  JOBS_POLL_INTERVAL_MS: '500',
  RUNTIME_MODE_POLL_MS: '500',
  // The harness's 3 s suits fault tests of the API; a worker streaming parts on a loaded machine needs more.
  S3_TIMEOUT_MS: '30000',
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

export type SpawnedWorker = {
  child: ChildProcess;
  /** Internal listener (/livez, /readyz, /metrics). */
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

const spawned: ChildProcess[] = [];
afterAll(() => {
  for (const child of spawned)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A real `src/jobs/worker.ts` process on `server`'s database and bucket; killed after the file. */
export async function spawnWorker(server: TestServer, env: Env = {}): Promise<SpawnedWorker> {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, LOG_LEVEL: 'info', ...(await testEnv(workerEnv(server, env))) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  spawned.push(child);
  const logs: Record<string, unknown>[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      if (parsed.msg === 'ready' && typeof parsed.url === 'string') resolve(parsed.url);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
  return { child, url, logs, exited };
}
