// The worker as real processes: two of them on one database, as production runs them.
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';
import { QUEUES } from '../src/jobs/queues.ts';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { type SpawnedWorker, spawnWorker } from './support/worker.ts';

let server: TestServer;
let workers: SpawnedWorker[];
let sql: postgres.Sql;

const completions = (queue: string) =>
  workers.flatMap((worker) =>
    worker.logs.filter((line) => line.msg === 'job completed' && line.queue === queue),
  );

beforeAll(async () => {
  server = await startTestServer();
  sql = postgres(server.config.database.url!, { max: 2, onnotice: () => {} });
  const env = {
    // Nothing listens there: every mail attempt fails (connection refused).
    SMTP_URL: `smtp://127.0.0.1:${await freePort()}`,
    MAIL_RETRY_LIMIT: '2',
    MAIL_RETRY_DELAY_S: '1',
    // Both workers look for due schedules every second, so both race for every tick.
    JOBS_CRON_CHECK_S: '1',
    SWEEP_CRON: '* * * * *',
    PURGE_CRON: '0 0 1 1 *',
  };
  workers = await Promise.all([spawnWorker(server, env), spawnWorker(server, env)]);
});

afterAll(() => sql.end());

describe.concurrent('two worker processes on one database', () => {
  it('a per-minute schedule runs exactly once per tick', { timeout: 200_000 }, async ({ expect }) => {
    // Two ticks (minute boundaries) after both workers started, then a few seconds for a duplicate to show.
    await expect
      .poll(() => completions(QUEUES.sweepUploads).length, { timeout: 150_000, interval: 500 })
      .toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const runs = completions(QUEUES.sweepUploads);
    expect(runs).toHaveLength(2);
    const jobs = await sql<{ id: string; minute: string }[]>`
      select id, date_trunc('minute', created_on)::text as minute from pgboss.job
      where name = ${QUEUES.sweepUploads} order by created_on`;
    expect(jobs).toHaveLength(2);
    expect(new Set(jobs.map((job) => job.minute)).size).toBe(2);
    expect(new Set(runs.map((run) => run.job_id))).toEqual(new Set(jobs.map((job) => job.id)));
  });

  it('a job whose handler throws is retried with backoff, then dead-lettered', {
    timeout: 100_000,
  }, async ({ expect }) => {
    const client = api(server);
    const session = await client.signUp();
    expect(
      (await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } })).status,
    ).toBe(202);
    const failedJob = async () =>
      (
        await sql<{ id: string; state: string; retry_count: number }[]>`
          select id, state, retry_count from pgboss.job where name = ${QUEUES.mail} and data->>'to' = ${session.email}`
      )[0];
    await expect
      .poll(failedJob, { timeout: 45_000, interval: 250 })
      .toMatchObject({ state: 'failed', retry_count: 2 });
    const job = (await failedJob())!;
    const dead = await sql`select data->>'to' as to from pgboss.job where name = ${QUEUES.mailDead}`;
    expect(dead.map((row) => row.to)).toContain(session.email);
    // Three attempts (first + 2 retries), wherever they ran, further and further apart.
    const attempts = workers
      .flatMap((worker) => worker.logs)
      .filter((line) => line.msg === 'job failed' && line.job_id === job.id)
      .map((line) => Date.parse(line.time as string))
      .sort((a, b) => a - b);
    expect(attempts).toHaveLength(3);
    const [first, second] = [attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!];
    console.error(`mail retries after ${first} ms, then ${second} ms`);
    expect(first).toBeGreaterThanOrEqual(1000);
    expect(second).toBeGreaterThanOrEqual(2000);
    // The dead letter shows in the workers' metrics (queue counts are refreshed every 15 s).
    await expect
      .poll(
        async () =>
          (await (await fetch(`${workers[0]!.url}/metrics`)).text()).match(
            /^stowage_jobs_dead_lettered\{queue="mail"\} (\d+)$/m,
          )?.[1],
        {
          timeout: 40_000,
          interval: 1000,
        },
      )
      .toBe('1');
  });

  it('a job enqueued in a transaction that rolls back never runs', { timeout: 30_000 }, async ({
    expect,
  }) => {
    const { db, jobs } = server.services;
    let rolledBack: string | null = null;
    await db
      .transaction(async (tx) => {
        rolledBack = await jobs.send(tx, QUEUES.export, { export_id: randomUUID() });
        throw new Error('the change that asked for the job failed');
      })
      .catch(() => {});
    const committed = await db.transaction((tx) => jobs.send(tx, QUEUES.export, { export_id: randomUUID() }));
    expect(rolledBack).toMatch(/^[0-9a-f-]{36}$/);
    // The committed one runs (an export that does not exist ends at once); the other never existed.
    await expect
      .poll(() => completions(QUEUES.export).map((line) => line.job_id), { timeout: 20_000 })
      .toContain(committed);
    expect(await sql`select 1 from pgboss.job where id = ${rolledBack!}`).toHaveLength(0);
    expect(JSON.stringify(workers.map((worker) => worker.logs))).not.toContain(rolledBack!);
  });

  it('each worker serves /livez, /readyz and its metrics on its internal listener', async ({ expect }) => {
    for (const worker of workers) {
      expect((await fetch(`${worker.url}/livez`)).status).toBe(200);
      const ready = await fetch(`${worker.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.headers.get('content-type')).toBe('application/health+json');
      const metrics = await (await fetch(`${worker.url}/metrics`)).text();
      for (const name of [
        'stowage_jobs_queued',
        'stowage_jobs_active',
        'stowage_jobs_dead_lettered',
        'stowage_jobs_completed_total',
        'stowage_jobs_failed_total',
        'stowage_job_duration_seconds',
        'stowage_export_bytes_total',
      ]) {
        expect(metrics).toContain(`# TYPE ${name} `);
      }
    }
  });
});
