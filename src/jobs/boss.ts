import { sql as drizzleSql } from 'drizzle-orm';
import { fromDrizzle, PgBoss, type SendOptions } from 'pg-boss';
import { type Config, loadConfig } from '../config.ts';
import type { Tx } from '../db/client.ts';
import type { Logger } from '../platform/logger.ts';
import { type QueueName, queueDefinitions } from './queues.ts';

export const BOSS_SCHEMA = 'pgboss';

type BossOptions = ConstructorParameters<typeof PgBoss>[0] & object;

/**
 * pg-boss on a small `pg` pool of its own: it sends multi-statement strings that postgres.js handles
 * badly (PITFALLS). `role` decides what the instance does: an API process only enqueues, never
 * installs or maintains anything.
 */
export function createBoss(
  url: string,
  role: 'api' | 'worker' | 'migrate',
  options: { poolMax?: number; config?: Config; logger?: Logger } = {},
): PgBoss {
  const serving = role === 'worker';
  const boss = new PgBoss({
    connectionString: url,
    schema: BOSS_SCHEMA,
    application_name: `stowage-${role}-jobs`,
    max: options.poolMax ?? 2,
    migrate: role === 'migrate',
    createSchema: role === 'migrate',
    supervise: serving,
    schedule: serving,
    ...(serving && options.config
      ? {
          cronMonitorIntervalSeconds: options.config.jobs.cronCheckS,
          cronWorkerIntervalSeconds: Math.min(5, options.config.jobs.cronCheckS),
          // Queue counts (the stowage_jobs_* gauges) are refreshed by these passes: at most 15 s old.
          monitorIntervalSeconds: 15,
          superviseIntervalSeconds: 15,
        }
      : {}),
    openTelemetry: { enabled: false },
  } as BossOptions);
  const logger = options.logger;
  boss.on('error', (error) => logger?.error({ err: error }, 'job queue error'));
  boss.on('warning', (warning) => logger?.warn({ data: warning.data }, `job queue: ${warning.message}`));
  return boss;
}

/**
 * The migrate command's part: pg-boss's schema (installed or upgraded) and every queue, with the
 * default options (workers apply their own config's at start). Reads no environment.
 */
export async function installJobs(url: string): Promise<void> {
  const boss = createBoss(url, 'migrate', { poolMax: 1 });
  await boss.start();
  try {
    await applyQueues(boss, loadConfig({}));
  } finally {
    await boss.stop({ graceful: false });
  }
}

/** Creates missing queues and brings existing ones to `config`'s options. */
export async function applyQueues(boss: PgBoss, config: Pick<Config, 'jobs' | 'exports'>): Promise<void> {
  for (const { name, policy: _policy, partition: _partition, ...options } of queueDefinitions(config)) {
    if (await boss.getQueue(name)) await boss.updateQueue(name, options);
    else await boss.createQueue(name, { policy: _policy, ...options });
  }
}

/** What API processes get: send a job inside the transaction of the change that causes it. */
export function createJobSender(url: string, logger: Logger) {
  const boss = createBoss(url, 'api', { poolMax: 2, logger });
  let started: Promise<unknown> | undefined;
  return {
    /** The job exists if and only if `tx` commits (transactional outbox). */
    async send(tx: Tx, queue: QueueName, data: object, options: SendOptions = {}): Promise<string | null> {
      // Started on first use; a failed start (database down) is retried by the next send.
      started ??= boss.start().catch((error: unknown) => {
        started = undefined;
        throw error;
      });
      await started;
      return boss.send(queue, data, { ...options, db: fromDrizzle(tx as never, drizzleSql as never) });
    },
    async close(): Promise<void> {
      if (started) await boss.stop({ graceful: false });
    },
  };
}

export type JobSender = ReturnType<typeof createJobSender>;
