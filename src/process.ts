// How a process runs: a single server, or a cluster primary and its workers (WEB_CONCURRENCY).
import cluster from 'node:cluster';
import type { ApiModule } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { runPrimary, superviseWorker } from './platform/cluster.ts';
import { createLogger } from './platform/logger.ts';
import { exitOnSignals, startServer } from './server.ts';
import { disableMetrics, startRuntimeMetrics } from './telemetry/metrics.ts';
import {
  answerPrimaryScrapes,
  clusterMetrics,
  localMetrics,
  startMetricsServer,
} from './telemetry/metrics-server.ts';

/** Config from the environment, then serve until a signal; `modules` lets tests mount probe routes. */
export async function runProcess(options: { modules?: ApiModule[] } = {}): Promise<void> {
  try {
    const config = loadConfig();
    const logger = createLogger({ level: config.logLevel });
    const metrics = config.telemetry.metrics;
    if (metrics.enabled) startRuntimeMetrics();
    else disableMetrics();
    if (cluster.isPrimary && config.process.webConcurrency > 1) {
      runPrimary(config, logger);
      if (metrics.enabled) await startMetricsServer(metrics, clusterMetrics(), logger);
      return;
    }
    // The SDK module is loaded only when tracing is on: off, not one of its modules is imported.
    const tracing = config.telemetry.tracing.enabled
      ? await (await import('./telemetry/sdk.ts')).startTracing(config.telemetry.tracing, logger)
      : undefined;
    const running = await startServer({ config, logger, modules: options.modules });
    // Spans still buffered are exported once the server has drained.
    const shutdown: typeof running.shutdown = (reason, shutdownOptions) =>
      running.shutdown(reason, shutdownOptions).finally(() => tracing?.shutdown());
    if (cluster.isWorker) {
      if (metrics.enabled) answerPrimaryScrapes();
      superviseWorker({
        maxRequests: config.process.maxRequestsPerWorker,
        countRequests: (onRequest) => running.server.on('request', onRequest),
        shutdown,
      });
    } else {
      if (metrics.enabled) await startMetricsServer(metrics, localMetrics, logger);
      exitOnSignals({ ...running, shutdown }, logger);
      logger.info({ url: running.url, workers: 1 }, 'ready');
    }
  } catch (error) {
    const logger = createLogger({ level: 'info' });
    if (error instanceof ConfigError) logger.fatal({ problems: error.problems }, error.message);
    else logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
}
