// Worker: the job queues of the worker process (pg-boss): throughput, failures, backlog, export bytes.
import { DASHBOARD_UIDS, dashboard, graph, prom, row } from './panels.ts';

const RATE = '$__rate_interval';

export const worker = () =>
  dashboard(
    DASHBOARD_UIDS.worker,
    'Stowage / Worker',
    'Jobs by queue: completed, failed for good (dead-lettered), waiting, their duration, and export bytes.',
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
        'Jobs dead-lettered by queue',
        'Jobs that exhausted their retries, per second.',
        'ops',
        prom(`sum by (queue) (rate(stowage_jobs_failed_total[${RATE}]))`, '{{queue}}'),
      ),
    )
    .withPanel(
      graph(
        'Backlog by queue',
        'Jobs waiting to be picked up.',
        'short',
        prom('sum by (queue) (stowage_jobs_queued)', '{{queue}}'),
      ),
    )
    .withPanel(
      graph(
        'Job duration p95 by queue',
        'stowage_job_duration_seconds, 95th percentile.',
        's',
        prom(
          `histogram_quantile(0.95, sum by (le, queue) (rate(stowage_job_duration_seconds_bucket[${RATE}])))`,
          '{{queue}}',
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
