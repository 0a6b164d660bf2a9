// Worker: the job queues of the worker process (pg-boss): throughput, failures, backlog, export bytes.
import { DASHBOARD_UIDS, dashboard, graph, prom, row } from './panels.ts';

const RATE = '$__rate_interval';

export const worker = () =>
  dashboard(
    DASHBOARD_UIDS.worker,
    'Stowage / Worker',
    'Jobs by queue: completed, failed attempts, dead-lettered, waiting and active, their duration, and export bytes.',
  )
    .withRow(row('Jobs by queue'))
    .withPanel(
      graph(
        'Jobs completed by queue',
        'Jobs finished successfully per second.',
        'ops',
        prom(`sum by (queue) (rate(stowage_jobs_completed_total[${RATE}]))`, '{{queue}}'),
      ),
    )
    .withPanel(
      graph(
        'Failed attempts by queue',
        'Job attempts that failed per second (retried, or dead-lettered once retries run out).',
        'ops',
        prom(`sum by (queue) (rate(stowage_jobs_failed_total[${RATE}]))`, '{{queue}}'),
      ),
    )
    .withPanel(
      graph(
        'Jobs dead-lettered by queue',
        'Jobs waiting in the dead-letter queue (retries exhausted). Queue depths are cluster-wide: max, not sum.',
        'short',
        prom('max by (queue) (stowage_jobs_dead_lettered)', '{{queue}}'),
      ),
    )
    .withPanel(
      graph(
        'Backlog by queue',
        'Jobs waiting to be picked up, and being worked on (cluster-wide values: max over workers).',
        'short',
        prom('max by (queue) (stowage_jobs_queued)', '{{queue}} queued', 'A'),
        prom('max by (queue) (stowage_jobs_active)', '{{queue}} active', 'B'),
      ),
    )
    .withPanel(
      graph(
        'Job duration p95 by queue',
        'stowage_job_duration_seconds, 95th percentile.',
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, queue, outcome) (rate(stowage_job_duration_seconds_bucket[${RATE}])))`,
          '{{queue}} {{outcome}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'Export bytes written',
        'Bytes of export archives written per second.',
        'Bps',
        prom(`sum(rate(stowage_export_bytes_total[${RATE}]))`, 'bytes/s'),
      ),
    );
