import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Job, PgBoss } from 'pg-boss';
import { type Config, ConfigError } from '../config.ts';
import { createDatabase } from '../db/client.ts';
import { isAtHead } from '../db/migrations.ts';
import { createMailer, type Mail, type Mailer } from '../modules/auth/mail.ts';
import { createSweeper } from '../modules/documents/sweeper.ts';
import { createExportRunner } from '../modules/exports/export-runner.ts';
import type { ExportJob } from '../modules/exports/exports.service.ts';
import { healthRoutes } from '../platform/health.ts';
import { Lifecycle } from '../platform/lifecycle.ts';
import type { Logger } from '../platform/logger.ts';
import { createRuntimeModeStore } from '../platform/runtime-mode.ts';
import { createStorage } from '../storage/storage.ts';
import { applyQueues, createBoss } from './boss.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { createPurge } from './purge.ts';
import { QUEUES, type QueueName } from './queues.ts';

export type RunningWorker = {
  /** Base URL of the internal listener (/livez, /readyz, /metrics). */
  url: string;
  boss: PgBoss;
  lifecycle: Lifecycle;
  /** Stops fetching, lets running jobs finish within WORKER_SHUTDOWN_TIMEOUT_MS, hands the rest back. */
  shutdown: (reason: string) => Promise<void>;
};

/** Wraps a handler with metrics and one log line per outcome (never the job's data: mail carries secrets). */
function instrumented<T>(
  queue: QueueName,
  metrics: WorkerMetrics,
  logger: Logger,
  handle: (job: Job<T>) => Promise<unknown>,
) {
  return async ([job]: Job<T>[]) => {
    if (!job) return;
    const stop = metrics.duration.startTimer({ queue });
    const running = Promise.withResolvers<void>();
    inFlight.add(running.promise);
    try {
      const result = await handle(job);
      stop({ outcome: 'completed' });
      metrics.completed.inc({ queue });
      logger.info({ queue, job_id: job.id, retry_count: job.retryCount }, 'job completed');
      return result;
    } catch (error) {
      stop({ outcome: 'failed' });
      metrics.failed.inc({ queue });
      logger.warn({ queue, job_id: job.id, retry_count: job.retryCount, err: error }, 'job failed');
      throw error;
    } finally {
      inFlight.delete(running.promise);
      running.resolve();
    }
  };
}

// Handlers still running: after pg-boss has handed their jobs back and aborted them, shutdown waits for
// them to clean up (an export aborts its multipart upload) before the process exits.
const inFlight = new Set<Promise<void>>();
const CLEANUP_GRACE_MS = 5000;

export async function startWorker(options: {
  config: Config;
  logger: Logger;
  mailer?: Mailer;
}): Promise<RunningWorker> {
  const { config, logger } = options;
  const { url: databaseUrl } = config.database;
  const { endpoint } = config.s3;
  if (!databaseUrl || !endpoint) {
    throw new ConfigError([
      ...(databaseUrl ? [] : ['DATABASE_URL: Required']),
      ...(endpoint ? [] : ['S3_ENDPOINT: Required']),
    ]);
  }
  const lifecycle = new Lifecycle();
  const database = createDatabase(
    // Long jobs run long statements (an export's document list); no request deadline applies here.
    { ...config.database, url: databaseUrl, poolMax: Math.min(config.database.poolMax, 5) },
    { logger, slowQueryMs: config.observability.slowQueryMs },
  );
  const db = database.db;
  const storage = createStorage({ ...config.s3, endpoint });
  const runtimeMode = createRuntimeModeStore({ db, pollMs: config.runtimeModePollMs, logger });
  await runtimeMode.start();
  const mailer = options.mailer ?? createMailer(config, logger);
  const boss = createBoss(databaseUrl, 'worker', { poolMax: config.jobs.poolMax, config, logger });
  await boss.start();
  await applyQueues(boss, config);
  const metrics = createWorkerMetrics(boss);

  const sweeper = createSweeper({ db, storage, logger, pendingTtlS: config.documents.pendingTtlS });
  const exportRunner = createExportRunner({
    db,
    storage,
    runtimeMode,
    config,
    logger,
    onBytes: (bytes) => metrics.exportBytes.inc(bytes),
  });
  const purge = createPurge({ db, exportRunner, logger });

  const polling = { pollingIntervalSeconds: config.jobs.pollIntervalMs / 1000, batchSize: 1 };
  await boss.schedule(QUEUES.sweepUploads, config.jobs.sweepCron);
  await boss.schedule(QUEUES.purge, config.jobs.purgeCron);
  await boss.work(
    QUEUES.sweepUploads,
    polling,
    instrumented(QUEUES.sweepUploads, metrics, logger, async () => ({ removed: await sweeper.runOnce() })),
  );
  await boss.work(
    QUEUES.purge,
    polling,
    instrumented(QUEUES.purge, metrics, logger, () => purge.runOnce()),
  );
  await boss.work(
    QUEUES.mail,
    { ...polling, localConcurrency: 2 },
    instrumented<Mail>(QUEUES.mail, metrics, logger, async (job) => {
      await mailer.send(job.data);
    }),
  );
  await boss.work(
    QUEUES.export,
    polling,
    instrumented<ExportJob>(QUEUES.export, metrics, logger, async (job) => ({
      outcome: await exportRunner.run(job.data.export_id, job.signal),
    })),
  );
  // An export whose retries ran out is marked failed; a dead mail just waits to be inspected or replayed.
  await boss.work(
    QUEUES.exportDead,
    polling,
    instrumented<ExportJob>(QUEUES.exportDead, metrics, logger, async (job) => {
      await exportRunner.markFailed(job.data.export_id, 'The export failed repeatedly; create a new one');
    }),
  );

  const app = new Hono();
  app.route(
    '/',
    healthRoutes({
      lifecycle,
      logger,
      checks: {
        postgres: (signal) => database.ping(signal),
        migrations: (signal) => isAtHead(database.sql, signal),
        storage: (signal) => storage.ping(signal),
      },
    }) as unknown as Hono,
  );
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
  app.notFound((c) => c.text('not found', 404));
  const server = serve({
    fetch: app.fetch,
    hostname: config.jobs.metricsHost,
    port: config.jobs.metricsPort,
  }) as Server;
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  lifecycle.markReady();
  logger.info({ url, queues: Object.values(QUEUES) }, 'worker listening');

  let stopped: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopped ??= (async () => {
      lifecycle.markStopping();
      logger.info(
        { reason, timeout_ms: config.jobs.shutdownTimeoutMs },
        'worker stopping: no new jobs are fetched',
      );
      // pg-boss stops fetching, waits for running handlers up to the timeout, then fails what is left
      // (retried by any worker) and aborts their signals: an export aborts its multipart upload.
      await boss.stop({ graceful: true, timeout: config.jobs.shutdownTimeoutMs });
      if (inFlight.size) {
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((r) => setTimeout(r, CLEANUP_GRACE_MS)),
        ]);
      }
      runtimeMode.stop();
      server.close();
      server.closeAllConnections();
      await Promise.allSettled([database.close(), storage.close()]);
      logger.info('worker stopped');
    })();
    return stopped;
  };
  return { url, boss, lifecycle, shutdown };
}
