import type { PgBoss } from 'pg-boss';
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
  const queued = new Gauge({
    name: 'stowage_jobs_queued',
    help: 'Jobs waiting in the queue (created or retry), across every worker.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const active = new Gauge({
    name: 'stowage_jobs_active',
    help: 'Jobs being worked on, across every worker.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const deadLettered = new Gauge({
    name: 'stowage_jobs_dead_lettered',
    help: 'Jobs of this queue that exhausted their retries and wait in its dead-letter queue.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const queues = await boss.getQueues().catch(() => []);
      queued.reset();
      active.reset();
      this.reset();
      for (const queue of queues) {
        queued.set({ queue: queue.name }, queue.queuedCount);
        active.set({ queue: queue.name }, queue.activeCount);
      }
      for (const [queue, dead] of Object.entries(DEAD_LETTERS)) {
        this.set({ queue }, queues.find((q) => q.name === dead)?.queuedCount ?? 0);
      }
    },
  });
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
  void deadLettered;
  return { registry, completed, failed, duration, exportBytes };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
