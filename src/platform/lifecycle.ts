import type { MiddlewareHandler } from 'hono';

/**
 * Process-wide phase shared by the health probes, the server and the shutdown sequence.
 * `starting` → `ready` once start-up work is done → `stopping` from the first shutdown signal.
 */
export type Phase = 'starting' | 'ready' | 'stopping';

export class Lifecycle {
  #phase: Phase = 'starting';

  get phase(): Phase {
    return this.#phase;
  }

  markReady(): void {
    if (this.#phase === 'starting') this.#phase = 'ready';
  }

  markStopping(): void {
    this.#phase = 'stopping';
  }

  get stopping(): boolean {
    return this.#phase === 'stopping';
  }

  #draining = false;

  /** A recycled worker: it stays ready (its siblings serve on) but lets its connections go. */
  markDraining(): void {
    this.#draining = true;
  }

  get releasingConnections(): boolean {
    return this.#draining || this.stopping;
  }
}

/** Once shutdown begins, every answer asks the client to reconnect, so keep-alive sockets drain. */
export const closeConnectionsWhenStopping =
  (lifecycle: Lifecycle): MiddlewareHandler =>
  async (c, next) => {
    await next();
    if (lifecycle.releasingConnections) c.res.headers.set('Connection', 'close');
  };
