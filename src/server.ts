import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '@hono/node-server';
import { type ApiModule, createApp } from './app.ts';
import { type Config, ConfigError } from './config.ts';
import { createDatabase } from './db/client.ts';
import { isAtHead } from './db/migrations.ts';
import { Lifecycle } from './platform/lifecycle.ts';
import type { Logger } from './platform/logger.ts';
import { PROBLEMS, type ProblemCode, problemTypeUrl } from './platform/problem.ts';
import { createServices, type Services } from './services.ts';
import { createStorage } from './storage/storage.ts';
import { watchRuntimeMode } from './telemetry/metrics.ts';

const RECYCLE_DRAIN_MS = 1000;
const IDLE_GRACE_MS = 250;

export type RunningServer = {
  url: string;
  server: Server;
  lifecycle: Lifecycle;
  services: Services;
  /** Drains and stops; resolves when every connection, the pool and the S3 client are closed. */
  shutdown: (reason: string, options?: { recycle?: boolean }) => Promise<void>;
};

export async function startServer(options: {
  config: Config;
  logger: Logger;
  modules?: ApiModule[];
}): Promise<RunningServer> {
  const { config, logger } = options;
  const { url: databaseUrl } = config.database;
  const { endpoint } = config.s3;
  if (!databaseUrl || !endpoint) {
    throw new ConfigError([
      ...(databaseUrl ? [] : ['DATABASE_URL: Required (`pnpm dev` starts an embedded Postgres and sets it)']),
      ...(endpoint ? [] : ['S3_ENDPOINT: Required (`pnpm dev` starts s3rver and sets it)']),
    ]);
  }
  const lifecycle = new Lifecycle();
  const database = createDatabase(
    { ...config.database, url: databaseUrl },
    { logger, slowQueryMs: config.observability.slowQueryMs },
  );
  const storage = createStorage({ ...config.s3, endpoint });
  const services = await createServices({ config, database, storage, logger });
  await services.runtimeMode.start();
  watchRuntimeMode(() => services.runtimeMode.mode);
  await services.principalChanges?.start();
  // In-process until the background worker exists; SKIP LOCKED keeps instances from colliding.
  services.sweeper.start(config.documents.sweepIntervalMs);
  const admin = config.auth.bootstrapAdmin;
  if (admin) {
    await services.users.ensureAdmin(admin.email, admin.password);
    logger.info({ email: admin.email }, 'bootstrap admin ensured');
  }
  const app = createApp({
    services,
    config,
    logger,
    lifecycle,
    modules: options.modules,
    readiness: {
      postgres: (signal) => database.ping(signal),
      migrations: (signal) => isAtHead(database.sql, signal),
      storage: (signal) => storage.ping(signal),
    },
  });

  const server = serve({
    fetch: app.fetch,
    hostname: config.host,
    port: config.port,
    serverOptions: {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      keepAliveTimeout: config.http.keepAliveTimeoutMs,
    },
  }) as Server;
  server.on('clientError', answerClientError(config.publicUrl, logger));
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  lifecycle.markReady();
  logger.info({ url, env: config.env }, 'listening');

  let stopped: Promise<void> | undefined;
  const shutdown = (reason: string, options: { recycle?: boolean } = {}) => {
    stopped ??= (async () => {
      // A recycled worker keeps answering /readyz (its siblings keep the instance up) and always drains
      // for a moment: every answer closes its connection, so no busy keep-alive socket is cut.
      const delayMs = options.recycle
        ? Math.max(config.http.shutdownDelayMs, RECYCLE_DRAIN_MS)
        : config.http.shutdownDelayMs;
      if (options.recycle) lifecycle.markDraining();
      else lifecycle.markStopping();
      logger.info(
        { reason, delay_ms: delayMs },
        options.recycle ? 'recycling: draining connections' : 'shutdown started: /readyz now answers 503',
      );
      if (delayMs > 0) await sleep(delayMs);
      // net.Server's close stops accepting without http.Server's immediate closeIdleConnections(): a
      // connection accepted a moment ago (in a cluster: just handed over by the primary) has not sent its
      // request yet, counts as idle, and would be reset. It gets a moment to send it, and is then answered
      // with `Connection: close` like every other in-flight request.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      await sleep(IDLE_GRACE_MS);
      // Idle keep-alive sockets would otherwise stay open until their timeout (PITFALLS: 4.9 s → 0.9 s).
      server.closeIdleConnections();
      const deadline = setTimeout(() => {
        logger.warn(
          { timeout_ms: config.http.shutdownTimeoutMs },
          'shutdown deadline reached: cutting connections',
        );
        server.closeAllConnections();
      }, config.http.shutdownTimeoutMs);
      await closed;
      clearTimeout(deadline);
      services.runtimeMode.stop();
      services.sweeper.stop();
      await Promise.allSettled([
        database.close(),
        storage.close(),
        services.rateLimits.close(),
        services.principalChanges?.stop(),
      ]);
      logger.info('shutdown complete');
    })();
    return stopped;
  };

  return { url, server, lifecycle, services, shutdown };
}

const CLIENT_ERROR_CODES: Record<string, ProblemCode> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/**
 * Requests Node's parser rejects never reach Hono; without this they get a bare `400 Bad Request` with
 * no body. They get the same problem+json shape (and a request id) as everything else.
 */
function answerClientError(publicUrl: string, logger: Logger) {
  return (error: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = CLIENT_ERROR_CODES[error.code ?? ''] ?? 'bad_request';
    const { status, title } = PROBLEMS[code];
    const requestId = randomUUID();
    const body = JSON.stringify({
      type: problemTypeUrl(publicUrl, code),
      title,
      status,
      detail: code === 'bad_request' ? 'The request could not be parsed as HTTP/1.1' : undefined,
      instance: '/',
      code,
      request_id: requestId,
    });
    logger.warn({ request_id: requestId, code: error.code, status }, 'client error');
    socket.end(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-ID: ${requestId}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

/** SIGTERM/SIGINT drain the server and exit 0; a second signal exits at once with 1. */
export function exitOnSignals(running: RunningServer, logger: Logger): void {
  const stop = (signal: NodeJS.Signals) => {
    if (running.lifecycle.stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    running.shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
