// Faults injected while a bounded load runs against the real process model (a cluster of two API
// workers): Postgres stopped and restarted, its pool exhausted, the object store stopped and hung, a
// worker SIGKILLed mid-upload, SIGTERM under load. For each: failures are fast, well-formed 503s with
// Retry-After (p99 under 2 s, nothing hangs), service recovers within 5 s of the dependency returning
// without a restart, and database and bucket are consistent afterwards.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { migrateDatabase } from '../src/db/migrations.ts';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { type EmbeddedS3Handle, startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { checkConsistency } from './support/consistency.ts';
import { type Step, startLoad, summarize } from './support/faults/load.ts';
import { type HangProxy, startHangProxy } from './support/hang-proxy.ts';
import { type TestServer, testEnv } from './support/harness.ts';
import { MAIN, type SpawnedServer, spawnServer } from './support/spawn.ts';
import { type SpawnedWorker, spawnWorker } from './support/worker.ts';

const PASSWORD = 'fault tolerant passphrase';
const S3_TIMEOUT_MS = 1500;

let dir: string;
let pgPort: number;
let s3Port: number;
let pg: EmbeddedPostgresHandle;
let s3: EmbeddedS3Handle;
let s3Proxy: HangProxy;
let server: SpawnedServer;
let worker: SpawnedWorker;
let env: Record<string, string>;
const clients: Array<{ token: string; documentId: string }> = [];

const startPostgres = () => startEmbeddedPostgres({ dir: join(dir, 'pg'), port: pgPort, ephemeral: true });
const startS3 = () => startEmbeddedS3({ dir: join(dir, 's3'), port: s3Port, buckets: ['faults'] });

async function call(path: string, init: RequestInit = {}, token?: string) {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
}

function uploadBody(name: string) {
  const form = new FormData();
  form.append('file', new Blob([`bytes of ${name}`.repeat(50)], { type: 'text/plain' }), name);
  return form;
}

/** The mix every client runs: who am I, list, metadata, bytes, and a small upload now and then. */
function mix(client: number): Step {
  const { token, documentId } = clients[client % clients.length]!;
  const steps: Step[] = [
    { label: 'me', run: (signal) => call('/v1/me', { signal }, token) },
    { label: 'list', run: (signal) => call('/v1/documents?limit=5', { signal }, token) },
    { label: 'get', run: (signal) => call(`/v1/documents/${documentId}`, { signal }, token) },
    { label: 'content', run: (signal) => call(`/v1/documents/${documentId}/content`, { signal }, token) },
    {
      label: 'upload',
      run: (signal) => call('/v1/documents', { method: 'POST', body: uploadBody('load.txt'), signal }, token),
    },
  ];
  return steps[Math.floor(Math.random() * steps.length)]!;
}

/** Milliseconds from now until `GET /v1/me` and an upload both succeed again (bounded). */
async function recoveryMs(limitMs = 15_000) {
  const start = performance.now();
  const { token } = clients[0]!;
  while (performance.now() - start < limitMs) {
    const me = await call('/v1/me', { signal: AbortSignal.timeout(3000) }, token).catch(() => undefined);
    if (me?.status === 200) {
      const up = await call('/v1/documents', { method: 'POST', body: uploadBody('probe.txt') }, token).catch(
        () => undefined,
      );
      if (up?.status === 201) return performance.now() - start;
    }
    await sleep(100);
  }
  return Number.POSITIVE_INFINITY;
}

async function expectConsistent() {
  const consistency = await checkConsistency(loadConfig(env));
  if (consistency.problems.length) console.error('[faults] inconsistent', consistency.problems);
  expect(consistency.problems).toEqual([]);
  return consistency;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-faults-load-'));
  await chmod(dir, 0o755);
  pgPort = await freePort();
  s3Port = await freePort();
  pg = await startPostgres();
  await migrateDatabase(pg.url());
  s3 = await startS3();
  s3Proxy = await startHangProxy(`http://127.0.0.1:${s3Port}`);
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  env = await testEnv({
    DATABASE_URL: pg.url(),
    S3_ENDPOINT: s3Proxy.url,
    S3_BUCKET: 'faults',
    S3_TIMEOUT_MS: String(S3_TIMEOUT_MS),
    DATABASE_CONNECT_TIMEOUT_S: '1',
    // How long a request may wait behind a saturated or locked database; a failed upload runs two
    // statements (insert, then the clean-up delete), so its worst case is twice this.
    DATABASE_STATEMENT_TIMEOUT_MS: '600',
    WEB_CONCURRENCY: '2',
    // A fixed port: with port 0, a respawned cluster worker would listen on a new random one.
    PORT: String(await freePort()),
    JWT_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'faults', alg: 'EdDSA' }),
  });
  server = await spawnServer(env, MAIN, { perFile: true });
  // The background worker on the same database and store: it must ride out the same faults.
  worker = await spawnWorker({ config: loadConfig(env) } as TestServer, { S3_ENDPOINT: s3Proxy.url });
  for (let i = 0; i < 3; i++) {
    const email = `faults-${i}@example.com`;
    await call('/v1/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const login = await call('/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const uploaded = await call(
      '/v1/documents',
      { method: 'POST', body: uploadBody(`seed-${i}.txt`) },
      token,
    );
    expect(uploaded.status, await uploaded.clone().text()).toBe(201);
    clients.push({
      token,
      documentId: ((await uploaded.json()) as { document: { id: string } }).document.id,
    });
  }
}, 120_000);

afterAll(async () => {
  if (process.env.FAULTS_LOG) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(process.env.FAULTS_LOG, server.logs.map((l) => JSON.stringify(l)).join('\n'));
  }
  if (server?.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await s3Proxy?.close();
  await Promise.allSettled([pg?.stop(), s3?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe('faults under load (two API workers and the job worker)', () => {
  it('Postgres stopped for 10 s: fast 503s with Retry-After, recovery within 5 s of its return', async () => {
    const load = startLoad({ clients: 6, next: mix });
    await sleep(1500);
    const outageStart = load.elapsed();
    await pg.stop();
    await sleep(10_000);
    const outageEnd = load.elapsed();
    pg = await startPostgres();
    const recovered = await recoveryMs();
    await load.stop();
    const during = summarize(load.outcomes.filter((o) => o.at >= outageStart + 500 && o.at < outageEnd));
    console.error(
      '[faults] postgres outage',
      JSON.stringify(during),
      `recovered in ${Math.round(recovered)} ms`,
    );
    expect(during.timeouts).toBe(0);
    expect(during.badFailures).toBe(0);
    expect(during.failedP99Ms).toBeLessThan(2000);
    expect(recovered).toBeLessThan(5000);
    expect(server.logs.filter((l) => l.msg === 'worker died')).toEqual([]);
    // The job worker (pg-boss on its own pool) survived the outage and is ready again.
    expect(worker.child.exitCode).toBeNull();
    await expect
      .poll(async () => (await fetch(`${worker.url}/readyz`).catch(() => undefined))?.status, {
        timeout: 10_000,
      })
      .toBe(200);
    await expectConsistent();
  }, 90_000);

  it('pool exhausted by slow queries: fast 503s, recovery when they end', async () => {
    const blocker = postgres(pg.url(), { max: 1, onnotice: () => {} });
    const load = startLoad({ clients: 8, next: mix });
    await sleep(1000);
    const start = load.elapsed();
    // Every query on documents waits behind this lock, as behind a runaway migration or report.
    const held = blocker.begin(async (tx) => {
      await tx`lock table documents in access exclusive mode`;
      await tx`select pg_sleep(6)`;
    });
    await held;
    const end = load.elapsed();
    const recovered = await recoveryMs();
    await load.stop();
    await blocker.end();
    const outcomes = load.outcomes.filter((o) => o.at >= start && o.at < end);
    const during = summarize(outcomes);
    console.error(
      '[faults] pool exhausted',
      JSON.stringify(during),
      `recovered in ${Math.round(recovered)} ms`,
    );
    // Nothing waits out the lock: statement_timeout (0.6 s here) bounds every request behind it.
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(2500);
    expect(during.failed).toBeGreaterThan(0);
    expect(during.timeouts).toBe(0);
    expect(during.badFailures).toBe(0);
    expect(during.failedP99Ms).toBeLessThan(2000);
    expect(recovered).toBeLessThan(5000);
    await expectConsistent();
  }, 90_000);

  it('object store stopped: uploads and downloads fail fast, the rest keeps working', async () => {
    const load = startLoad({ clients: 6, next: mix });
    await sleep(1000);
    const start = load.elapsed();
    await s3.stop();
    await sleep(5000);
    const end = load.elapsed();
    s3 = await startS3();
    const recovered = await recoveryMs();
    await load.stop();
    const during = load.outcomes.filter((o) => o.at >= start + 200 && o.at < end);
    const summary = summarize(during);
    console.error(
      '[faults] store stopped',
      JSON.stringify(summary),
      `recovered in ${Math.round(recovered)} ms`,
    );
    expect(summary.timeouts).toBe(0);
    expect(summary.badFailures).toBe(0);
    expect(summary.failedP99Ms).toBeLessThan(2000);
    // Requests that need no bytes are not affected by the store.
    expect(during.filter((o) => ['me', 'list', 'get'].includes(o.label) && o.status !== 200)).toEqual([]);
    expect(recovered).toBeLessThan(5000);
    await expectConsistent();
  }, 90_000);

  it('object store hung: byte requests end in 503 within S3_TIMEOUT_MS + 1 s, nothing left behind', async () => {
    const load = startLoad({ clients: 6, next: mix });
    await sleep(1000);
    const start = load.elapsed();
    s3Proxy.hang(true);
    await sleep(5000);
    const end = load.elapsed();
    s3Proxy.hang(false);
    const recovered = await recoveryMs();
    await load.stop();
    const during = load.outcomes.filter((o) => o.at >= start && o.at < end);
    const summary = summarize(during);
    console.error('[faults] store hung', JSON.stringify(summary), `recovered in ${Math.round(recovered)} ms`);
    expect(summary.timeouts).toBe(0);
    expect(summary.badFailures).toBe(0);
    expect(worker.child.exitCode).toBeNull(); // the job worker rode out the store's faults too
    const slowest = Math.max(0, ...during.filter((o) => o.status >= 500).map((o) => o.ms));
    expect(slowest).toBeLessThan(S3_TIMEOUT_MS + 1000);
    expect(during.filter((o) => ['me', 'list', 'get'].includes(o.label) && o.status !== 200)).toEqual([]);
    expect(recovered).toBeLessThan(5000);
    await expectConsistent();
  }, 90_000);

  it('an API worker SIGKILLed mid-upload: the other keeps serving, a new one replaces it, nothing half-written', async () => {
    const pids = server.logs.filter((l) => l.msg === 'worker listening').map((l) => Number(l.worker_pid));
    const victim = pids.at(-1)!;
    const { token } = clients[0]!;
    // Slow uploads on several connections: some of them are on the victim.
    const uploads = Array.from({ length: 4 }, async () => {
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          const boundary = 'killBoundary';
          controller.enqueue(
            new TextEncoder().encode(
              `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="k.txt"\r\nContent-Type: text/plain\r\n\r\n`,
            ),
          );
          for (let i = 0; i < 30; i++) {
            controller.enqueue(new Uint8Array(64 * 1024).fill(i));
            await sleep(100);
          }
          controller.enqueue(new TextEncoder().encode(`\r\n--${boundary}--\r\n`));
          controller.close();
        },
      });
      return fetch(`${server.url}/v1/documents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'multipart/form-data; boundary=killBoundary',
        },
        body,
        duplex: 'half',
      } as RequestInit)
        .then((r) => r.status)
        .catch(() => 0);
    });
    await sleep(800);
    process.kill(victim, 'SIGKILL');
    const statuses = await Promise.all(uploads);
    console.error('[faults] uploads around a SIGKILL', JSON.stringify(statuses));
    // Every upload either completed on the survivor or failed; none half-succeeded.
    expect(statuses.every((s) => s === 201 || s === 0 || s >= 500)).toBe(true);
    expect(await recoveryMs()).toBeLessThan(5000);
    expect(
      server.logs.filter((l) => l.msg === 'worker died' && Number(l.worker_pid) === victim),
    ).toHaveLength(1);
    await expectConsistent();
  }, 90_000);

  it('SIGTERM under load: in-flight requests finish, late ones are refused cleanly, exit 0', async () => {
    const load = startLoad({ clients: 6, next: mix, timeoutMs: 10_000 });
    await sleep(1000);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    await load.stop();
    expect(exit.code).toBe(0);
    const summary = summarize(load.outcomes);
    console.error('[faults] sigterm', JSON.stringify(summary));
    expect(summary.timeouts).toBe(0);
    // After the listener closes, connections are refused: that is the clean answer of a stopped process.
    const unexpected = load.outcomes.filter(
      (o) =>
        (o.status >= 500 && !(o.status === 503 && o.retryAfter)) ||
        (o.error && !/fetch failed/.test(o.error)),
    );
    expect(unexpected).toEqual([]);
    await expectConsistent();
  }, 90_000);
});
