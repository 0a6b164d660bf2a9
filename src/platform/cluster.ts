import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.ts';
import type { Logger } from './logger.ts';

/** Messages between the primary and its workers. */
type Message = { type: 'recycle' } | { type: 'shutdown'; recycle?: boolean };

/** A worker may be exiting already (its channel closed): then there is nothing to tell it. */
const tell = (worker: Worker | undefined, message: Message) => {
  if (worker?.isConnected()) worker.send(message, () => {});
};

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** A worker that lived this long was healthy: the next crash starts the backoff over. */
const STABLE_AFTER_MS = 60_000;

/**
 * The primary of `WEB_CONCURRENCY` workers. It serves nothing itself: it forks the workers (which share
 * the listening socket), respawns crashed ones with exponential backoff, replaces a worker that asks to
 * be recycled before letting it drain, and on SIGTERM/SIGINT drains them all and exits 0.
 */
export function runPrimary(config: Config, logger: Logger): void {
  const retiring = new Set<Worker>();
  const startedAt = new Map<Worker, number>();
  let stopping = false;
  let backoffMs = BACKOFF_MIN_MS;
  let listening = 0;

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
    worker.on('message', (message: Message) => {
      if (message?.type === 'recycle') recycle(worker);
    });
    worker.once('listening', (address) => {
      logger.info({ worker_pid: worker.process.pid }, 'worker listening');
      if (stopping) tell(worker, { type: 'shutdown' }); // a replacement that came up after SIGTERM
      // Once, when the first generation is up; respawns and replacements are logged above.
      if (++listening === config.process.webConcurrency) {
        const url = `http://${address.address || config.host}:${address.port}`;
        logger.info({ url, workers: config.process.webConcurrency }, 'ready');
      }
    });
    return worker;
  };

  // The replacement listens first, then the old worker drains: capacity never drops.
  const recycle = (worker: Worker) => {
    if (stopping || retiring.has(worker)) return;
    retiring.add(worker);
    logger.info({ worker_pid: worker.process.pid }, 'recycling worker');
    fork().once('listening', () => tell(worker, { type: 'shutdown', recycle: true }));
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? Date.now());
    startedAt.delete(worker);
    if (retiring.delete(worker) || stopping) {
      logger.info({ worker_pid: worker.process.pid, code }, 'worker exited');
      if (stopping && Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('all workers stopped');
        process.exit(0);
      }
      return;
    }
    backoffMs = lived > STABLE_AFTER_MS ? BACKOFF_MIN_MS : backoffMs;
    logger.error({ worker_pid: worker.process.pid, code, signal, respawn_in_ms: backoffMs }, 'worker died');
    setTimeout(() => stopping || fork(), backoffMs);
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining workers');
    for (const worker of Object.values(cluster.workers ?? {})) tell(worker, { type: 'shutdown' });
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    // Each worker has its own deadline; this one only covers a worker that hangs regardless.
    setTimeout(
      () => {
        logger.error('workers did not stop in time: killing them');
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
        process.exit(1);
      },
      config.http.shutdownDelayMs + config.http.shutdownTimeoutMs + 5000,
    ).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  logger.info({ workers: config.process.webConcurrency, pid: process.pid }, 'primary started');
  for (let i = 0; i < config.process.webConcurrency; i++) fork();
}

/**
 * In a worker: drain when the primary says so, and ask to be recycled after about `maxRequests`
 * (± 10 % jitter, so workers started together do not all recycle together).
 */
export function superviseWorker(options: {
  maxRequests: number;
  countRequests: (onRequest: () => void) => void;
  shutdown: (reason: string, options?: { recycle?: boolean }) => Promise<void>;
}): void {
  const drain = (reason: string, recycle = false) =>
    options.shutdown(reason, { recycle }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.on('message', (message: Message) => {
    if (message?.type === 'shutdown') drain(message.recycle ? 'recycled' : 'primary asked', message.recycle);
  });
  // The primary is gone (killed): nobody would stop or replace this worker, so it drains and exits.
  process.on('disconnect', () => drain('primary gone'));
  // Signals reach workers too (a terminal's Ctrl-C signals the whole group); the primary coordinates.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  if (options.maxRequests <= 0) return;
  const quota = Math.round(options.maxRequests * (0.9 + Math.random() * 0.2));
  let served = 0;
  options.countRequests(() => {
    if (++served === quota) process.send?.({ type: 'recycle' } satisfies Message);
  });
}
