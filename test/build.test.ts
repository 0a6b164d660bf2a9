import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';
import { lockDist } from './support/dist-lock.ts';
import { createTestDatabase, testEnv } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let server: ChildProcess | undefined;
let releaseDist: (() => Promise<void>) | undefined;

beforeAll(async () => {
  releaseDist = await lockDist();
  execFileSync('pnpm', ['-s', 'build'], { cwd: ROOT, stdio: 'pipe' });
}, 400_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  await releaseDist?.();
});

describe('the production bundle (pnpm build)', () => {
  it('dist/migrate.js brings an empty database to the latest migration', async () => {
    const url = await createTestDatabase({ migrated: false });
    const result = spawnSync(process.execPath, ['dist/migrate.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).toMatch(/migrations applied/);
    expect(result.status).toBe(0);
    const sql = postgres(url, { max: 1 });
    const [row] = await sql`select count(*)::int as applied from drizzle.__drizzle_migrations`;
    const extensions =
      await sql`select extname from pg_extension where extname in ('citext', 'pg_trgm') order by 1`;
    // The job queue's schema and queues come with the same command; API processes never install them.
    const queues = await sql`select name from pgboss.queue order by name`;
    await sql.end();
    expect(queues.map((q) => q.name)).toEqual([
      'export',
      'export-dead',
      'mail',
      'mail-dead',
      'purge',
      'sweep-uploads',
    ]);
    const journal = JSON.parse(
      readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8'),
    );
    expect(row?.applied).toBe(journal.entries.length);
    expect(extensions.map((e) => e.extname)).toEqual(['citext', 'pg_trgm']);
  });

  it('dist/worker.js starts, is ready on its internal listener, and exits 0 on SIGTERM', async () => {
    const env = await testEnv({ METRICS_PORT: '0' });
    const worker = spawn(process.execPath, ['dist/worker.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      worker.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      const deadline = Date.now() + 20_000;
      while (!/"msg":"ready"/.test(output) && Date.now() < deadline) await sleep(50);
      const url = /"url":"(http:[^"]+)","msg":"ready"/.exec(output)?.[1];
      expect(url, output).toBeDefined();
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('stowage_jobs_queued');
      worker.kill('SIGTERM');
      const [code] = await once(worker, 'exit');
      expect(code).toBe(0);
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
  });

  it('dist/migrate.js without DATABASE_URL exits 1 with a clear message', () => {
    const result = spawnSync(process.execPath, ['dist/migrate.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL must be a postgres:// URL');
  });

  it('dist/main.js serves: ready, problems, OpenAPI and the self-hosted docs bundle', async () => {
    const port = await freePort();
    server = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...(await testEnv({ PORT: String(port) })), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const base = `http://127.0.0.1:${port}`;
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await sleep(100);
    }
    expect(ready).toBe(200);
    expect((await fetch(`${base}/nope`)).headers.get('content-type')).toBe('application/problem+json');
    expect(((await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string }).openapi).toBe(
      '3.1.0',
    );
    expect((await fetch(`${base}/docs/scalar.js`)).status).toBe(200);
  });
});
