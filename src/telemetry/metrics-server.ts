// The Prometheus scrape endpoint: its own listener on METRICS_HOST:METRICS_PORT, never the public port.
// In a cluster the primary answers for every worker (prom-client's AggregatorRegistry asks each worker
// over IPC and sums); a single process answers from its own registry.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../platform/logger.ts';
import { registry } from './metrics.ts';

export type MetricsSource = () => Promise<string>;

/** This process's metrics. */
export const localMetrics: MetricsSource = () => registry.metrics();

/** In the cluster primary: the sum over all workers (each metric combined by its `aggregator`). */
export function clusterMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}

/** In a worker: answer the primary's scrape requests from this process's registry. */
export function answerPrimaryScrapes(): void {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's IPC listener
}

/**
 * Serves `GET /metrics`. Failing to listen is logged, not fatal: an instance without metrics still
 * serves traffic, and the scrape's `up == 0` alerts on it.
 */
export async function startMetricsServer(
  options: { host: string; port: number },
  source: MetricsSource,
  logger: Logger,
): Promise<Server | undefined> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    source().then(
      (text) => response.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (error: unknown) => {
        logger.warn({ err: error }, 'metrics scrape failed');
        response.writeHead(503, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  try {
    server.listen(options.port, options.host);
    await once(server, 'listening');
  } catch (error) {
    logger.error({ err: error, host: options.host, port: options.port }, 'metrics listener failed');
    return undefined;
  }
  server.unref(); // never what keeps the process alive
  const { port } = server.address() as AddressInfo;
  logger.info({ metrics_url: `http://${options.host}:${port}/metrics` }, 'metrics listening');
  return server;
}
