import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../src/db/migrations.ts';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { type EmbeddedS3Handle, startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { createTestBucket, createTestDatabase, startTestServer, type TestServer } from './support/harness.ts';

const probe = async (server: TestServer, path = '/readyz') => {
  const response = await fetch(`${server.url}${path}`);
  expect(response.headers.get('content-type')).toBe('application/health+json');
  expect(response.headers.get('cache-control')).toBe('no-store');
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
};

/** Polls until the probe answers `status`, for at most `ms`. */
async function eventually(server: TestServer, status: number, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last = await probe(server);
  while (last.status !== status && Date.now() < deadline) {
    await sleep(100);
    last = await probe(server);
  }
  return last;
}

describe('probes on a healthy stack', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });

  it('livez, startupz and readyz answer 200 application/health+json', async () => {
    expect(await probe(server, '/livez')).toMatchObject({ status: 200, body: { status: 'pass' } });
    expect(await probe(server, '/startupz')).toMatchObject({ status: 200, body: { status: 'pass' } });
    const ready = await probe(server);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'pass',
      checks: {
        postgres: { status: 'pass', duration_ms: expect.any(Number) },
        migrations: { status: 'pass', duration_ms: expect.any(Number) },
        storage: { status: 'pass', duration_ms: expect.any(Number) },
      },
    });
  });
});

describe('readiness follows its dependencies without restarting the app', () => {
  let dir: string;
  let pg: EmbeddedPostgresHandle;
  let s3: EmbeddedS3Handle;
  let server: TestServer;
  let pgPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-health-'));
    await chmod(dir, 0o755);
    pgPort = await freePort();
    pg = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: pgPort, ephemeral: true });
    await pg.ensureDatabase('stowage');
    await migrateDatabase(pg.url('stowage'));
    s3 = await startEmbeddedS3({ dir: join(dir, 's3'), port: await freePort(), buckets: ['health'] });
    server = await startTestServer({
      env: { DATABASE_URL: pg.url('stowage'), S3_ENDPOINT: s3.endpoint, S3_BUCKET: 'health' },
    });
  });

  afterAll(async () => {
    await server.shutdown('test finished');
    await Promise.allSettled([pg.stop(), s3.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('Postgres stopped → 503 naming the failed checks but no host; restarted → 200', async () => {
    expect((await probe(server)).status).toBe(200);

    await pg.stop();
    const down = await eventually(server, 503);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('fail');
    expect(down.body.checks.postgres).toMatchObject({ status: 'fail', reason: 'unreachable' });
    expect(down.body.checks.storage).toMatchObject({ status: 'pass' });
    expect(down.text).not.toContain('127.0.0.1');
    expect(down.text).not.toContain(String(pgPort));
    expect(down.text).not.toMatch(/ECONNREFUSED|password|postgres:\/\//);
    expect((await probe(server, '/livez')).status).toBe(200);

    pg = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: pgPort, ephemeral: true });
    const up = await eventually(server, 200);
    expect(up.body.status).toBe('pass');

    const transitions = server.logs.lines
      .filter((line) => line.check === 'postgres')
      .map((line) => line.status);
    expect(transitions).toEqual(['pass', 'fail', 'pass']);
  });

  it('bucket unreachable → 503 on storage; back → 200', async () => {
    const port = Number(new URL(s3.endpoint).port);
    await s3.stop();
    const down = await eventually(server, 503);
    expect(down.body.checks.storage).toMatchObject({ status: 'fail' });
    expect(down.body.checks.postgres).toMatchObject({ status: 'pass' });

    s3 = await startEmbeddedS3({ dir: join(dir, 's3'), port, buckets: ['health'] });
    expect((await eventually(server, 200)).body.status).toBe('pass');
  });
});

describe('migrations', () => {
  it('a database behind the build’s migrations is not ready', async () => {
    const server = await startTestServer({
      env: {
        DATABASE_URL: await createTestDatabase({ migrated: false }),
        S3_BUCKET: await createTestBucket(),
      },
    });
    const ready = await probe(server);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.migrations).toMatchObject({ status: 'fail', reason: 'behind' });
    expect(ready.body.checks.postgres).toMatchObject({ status: 'pass' });
  });
});
