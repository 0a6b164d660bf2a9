// Runtime: the Node.js process of every scrape target (api and worker): event loop, heap, GC, RSS.
import { DASHBOARD_UIDS, dashboard, graph, prom, row } from './panels.ts';

const RATE = '$__rate_interval';

export const runtime = () =>
  dashboard(
    DASHBOARD_UIDS.runtime,
    'Stowage / Runtime',
    'Event-loop delay and utilisation, heap, garbage collection, RSS, CPU and file descriptors per instance (api and worker).',
  )
    .withRow(row('Event loop'))
    .withPanel(
      graph(
        'Event-loop delay p99',
        'nodejs_eventloop_lag_p99_seconds per instance: above 100 ms every request of that process waits.',
        's',
        prom('max by (job, instance) (nodejs_eventloop_lag_p99_seconds)', '{{job}} {{instance}}'),
      ),
    )
    .withPanel(
      graph(
        'Event-loop utilisation',
        'Share of time the loop was busy (averaged over the workers of an instance); near 1: CPU-bound.',
        'percentunit',
        prom('max by (job, instance) (nodejs_eventloop_utilization_ratio)', '{{job}} {{instance}}'),
      ),
    )
    .withRow(row('Memory and GC'))
    .withPanel(
      graph(
        'Heap used / total',
        'V8 heap per instance (summed over its workers).',
        'bytes',
        prom('sum by (job, instance) (nodejs_heap_size_used_bytes)', '{{job}} {{instance}} used', 'A'),
        prom('sum by (job, instance) (nodejs_heap_size_total_bytes)', '{{job}} {{instance}} total', 'B'),
      ),
    )
    .withPanel(
      graph(
        'Resident memory (RSS)',
        'process_resident_memory_bytes per instance: compare with the container memory limit.',
        'bytes',
        prom('sum by (job, instance) (process_resident_memory_bytes)', '{{job}} {{instance}}'),
      ),
    )
    .withPanel(
      graph(
        'Time in GC by kind',
        'Seconds of garbage collection per second, by GC kind.',
        'percentunit',
        prom(
          `sum by (job, instance, kind) (rate(nodejs_gc_duration_seconds_sum[${RATE}]))`,
          '{{job}} {{instance}} {{kind}}',
        ),
      ),
    )
    .withPanel(
      graph(
        'CPU',
        'CPU seconds per second per instance (1 = one core).',
        'short',
        prom(`sum by (job, instance) (rate(process_cpu_seconds_total[${RATE}]))`, '{{job}} {{instance}}'),
      ),
    )
    .withRow(row('Process'))
    .withPanel(
      graph(
        'Open file descriptors',
        'process_open_fds per instance (sockets included).',
        'short',
        prom('sum by (job, instance) (process_open_fds)', '{{job}} {{instance}}'),
      ),
    )
    .withPanel(
      graph(
        'Running versions',
        'stowage_build_info: which version and Node.js each instance runs (a rollout shows two).',
        'short',
        prom('count by (version, node_version) (stowage_build_info)', '{{version}} node {{node_version}}'),
      ),
    );
