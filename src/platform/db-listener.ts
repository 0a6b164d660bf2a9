import postgres from 'postgres';
import type { Logger } from './logger.ts';

export type ListenerEvents = {
  onNotify: (payload: string) => void;
  /** Listening (again). Whatever was sent while not listening is lost: notifications are not queued. */
  onListening: () => void;
  /** The connection dropped: from now on notifications may be missed, until `onListening`. */
  onLost: () => void;
};

const MAX_BACKOFF_MS = 5000;

/**
 * LISTEN on one channel over a connection of its own, re-established with backoff whenever it drops.
 * postgres.js's `sql.listen()` reconnects too, but never says when it lost the connection and gives up
 * after one failed attempt; a cache invalidated by notifications has to know both.
 */
export function listenTo(url: string, channel: string, events: ListenerEvents, logger: Logger) {
  let stopped = false;
  let listening = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const sql = postgres(url, {
    max: 1,
    max_lifetime: null,
    connect_timeout: 5,
    connection: { application_name: 'stowage-listener' },
    onnotice: () => {},
    onclose: () => {
      const lost = listening && !stopped;
      listening = false;
      if (lost) events.onLost();
      retry();
    },
    // Internal to postgres.js (its own listen() uses it): every NotificationResponse of the connection.
    ...({
      onnotify: (name: string, payload: string) => name === channel && events.onNotify(payload),
    } as object),
  });

  const subscribe = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await sql`listen ${sql(channel)}`;
      attempt = 0;
      listening = true;
      events.onListening();
    } catch (error) {
      if (stopped) return;
      logger.warn({ err: error, channel }, 'database listener: cannot listen yet, retrying');
      retry();
    }
  };

  function retry() {
    if (stopped || timer) return;
    timer = setTimeout(subscribe, Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt++));
    timer.unref();
  }

  return {
    /** Resolves once listening, or after the first failure (retries continue in the background). */
    start: subscribe,
    get listening() {
      return listening;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await sql.end({ timeout: 1 });
    },
  };
}

export type DbListener = ReturnType<typeof listenTo>;
