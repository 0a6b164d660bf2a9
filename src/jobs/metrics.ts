import type { PgBoss, QueueResult } from 'pg-boss';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { QUEUES } from './queues.ts';

// The worker's own registry, served on its internal listener. Queue depths come from pg-boss at scrape
// time and are cluster-wide (every worker reports the same value: use max(), not sum(), across
// workers); counters and durations are this process's.
const DEAD_LETTERS: Record<string, string> = {
  [QUEUES.mail]: QUEUES.mailDead,
  [QUEUES.export]: QUEUES.exportDead,
};

export function createWorkerMetrics(boss: PgBoss) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // One read of pg-boss's queue table per scrape, shared by the three gauges below.
  let snapshot: { at: number; queues: Promise<QueueResult[]> } | undefined;
  const queues = () => {
    if (!snapshot || Date.now() - snapshot.at > 1000) {
      snapshot = { at: Date.now(), queues: boss.getQueues().catch(() => []) };
    }
    return snapshot.queues;
  };
  const fromQueues = (
    name: string,
    help: string,
    value: (queue: string, all: QueueResult[]) => number | undefined,
    names?: string[],
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        const all = await queues();
        this.reset();
        for (const queue of names ?? all.map((q) => q.name)) {
          const found = value(queue, all);
          if (found !== undefined) this.set({ queue }, found);
        }
      },
    });
  fromQueues(
    'stowage_jobs_queued',
    'Jobs waiting in the queue (created or retry), across every worker.',
    (queue, all) => all.find((q) => q.name === queue)?.queuedCount,
  );
  fromQueues(
    'stowage_jobs_active',
    'Jobs being worked on, across every worker.',
    (queue, all) => all.find((q) => q.name === queue)?.activeCount,
  );
  fromQueues(
    'stowage_jobs_dead_lettered',
    'Jobs of this queue that exhausted their retries and wait in its dead-letter queue.',
    (queue, all) => all.find((q) => q.name === DEAD_LETTERS[queue])?.queuedCount ?? 0,
    Object.keys(DEAD_LETTERS),
  );
  const completed = new Counter({
    name: 'stowage_jobs_completed_total',
    help: 'Jobs this worker completed.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'stowage_jobs_failed_total',
    help: 'Job attempts that failed on this worker (retried, or dead-lettered once retries run out).',
    labelNames: ['queue'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'stowage_job_duration_seconds',
    help: 'Time a job attempt ran on this worker, by outcome.',
    labelNames: ['queue', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const exportBytes = new Counter({
    name: 'stowage_export_bytes_total',
    help: 'Bytes of ZIP written to storage by exports on this worker.',
    registers: [registry],
  });
  return { registry, completed, failed, duration, exportBytes };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
