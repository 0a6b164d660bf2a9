// Per-test-file isolation: a database cloned from the migrated template, a bucket of its own, a config
// pointing at both, a real server on a loopback port, and captured log lines.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import type { ApiModule } from '../../src/app.ts';
import { type Config, type Env, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { createStorage } from '../../src/storage/storage.ts';

export const stack = () => inject('stack');

const suffix = () => randomBytes(5).toString('hex');

export function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh database at the latest migration, dropped when the file's tests end. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<string> {
  const { adminUrl, template } = stack();
  const name = `t_${suffix()}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}${options.migrated === false ? '' : ` template ${template}`}`);
  await admin.end();
  afterAll(async () => {
    const cleanup = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await cleanup.unsafe(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  });
  return withDatabase(adminUrl, name);
}

export async function createTestBucket(endpoint = stack().s3Endpoint): Promise<string> {
  const { s3AccessKey, s3SecretKey } = stack();
  const bucket = `t-${suffix()}`;
  const storage = createStorage({
    endpoint,
    region: 'us-east-1',
    bucket,
    accessKeyId: s3AccessKey,
    secretAccessKey: s3SecretKey,
    forcePathStyle: true,
    timeoutMs: 5000,
  });
  await storage.ensureBucket();
  storage.close();
  return bucket;
}

export const GENEROUS_LIMITS = {
  RATE_LIMIT_LOGIN: '100000/1m',
  RATE_LIMIT_LOGIN_FAILURES: '100000/15m',
  RATE_LIMIT_AUTH_FAILURES: '100000/1m',
  RATE_LIMIT_REGISTER: '100000/1h',
  RATE_LIMIT_PASSWORD_RESET: '100000/1h',
  RATE_LIMIT_ACCOUNT: '100000/1m',
  RATE_LIMIT_API_KEY_FREE: '100000/1m burst 100000',
  RATE_LIMIT_API_KEY_PREMIUM: '100000/1m burst 100000',
  RATE_LIMIT_API_KEY_ENTERPRISE: '100000/1m burst 100000',
};

/** Env for a config on this file's database and bucket; `overrides` win. */
export async function testEnv(overrides: Env = {}): Promise<Record<string, string>> {
  const { s3Endpoint, s3AccessKey, s3SecretKey } = stack();
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'https://api.stowage.test',
    DATABASE_URL: overrides.DATABASE_URL ?? (await createTestDatabase()),
    S3_ENDPOINT: s3Endpoint,
    S3_BUCKET: overrides.S3_BUCKET ?? (await createTestBucket(overrides.S3_ENDPOINT ?? s3Endpoint)),
    S3_ACCESS_KEY_ID: s3AccessKey,
    S3_SECRET_ACCESS_KEY: s3SecretKey,
    S3_TIMEOUT_MS: '3000',
    // Spawned servers open the metrics listener: any free port, since test files run in parallel.
    METRICS_PORT: '0',
    // Files that are not about rate limits make many calls from one IP; they get generous limits.
    ...GENEROUS_LIMITS,
    ...(Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
  };
}

/** Log lines as parsed JSON, collected from a logger built exactly like production's. */
export function captureLogs(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines, raw };
}

export type TestServer = RunningServer & { config: Config; logs: ReturnType<typeof captureLogs> };

/** The real server (pool, S3 client, HTTP listener) on a free loopback port; stopped after the file. */
export async function startTestServer(
  options: { env?: Env; modules?: ApiModule[] } = {},
): Promise<TestServer> {
  const config = loadConfig(await testEnv(options.env));
  const logs = captureLogs();
  const running = await startServer({ config, logger: logs.logger, modules: options.modules });
  afterAll(() => running.shutdown('test finished'));
  return { ...running, config, logs };
}
