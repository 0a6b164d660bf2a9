import { eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Db, Tx } from '../db/client.ts';
import { runtimeSettings } from '../db/platform.tables.ts';
import type { AppEnv } from './app-env.ts';
import type { Logger } from './logger.ts';
import { AppError } from './problem.ts';

export const RUNTIME_MODES = ['normal', 'degraded', 'read_only'] as const;
export type RuntimeMode = (typeof RUNTIME_MODES)[number];

const KEY = 'runtime_mode';
const RETRY_AFTER_S = '30';
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
// Still writable in read-only mode, so an admin can sign in and switch it back.
const READ_ONLY_EXEMPT = new Set([
  '/v1/auth/login',
  '/v1/auth/refresh',
  '/v1/auth/logout',
  '/v1/admin/runtime-mode',
]);

/**
 * The cluster-wide mode lives in Postgres; each instance re-reads it every `pollMs`, so a change
 * applies everywhere within that time. If Postgres is unreachable the last known mode stays in force.
 */
export function createRuntimeModeStore(deps: { db: Db; pollMs: number; logger: Logger }) {
  const { db, pollMs, logger } = deps;
  let mode: RuntimeMode = 'normal';
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  const load = async () => {
    try {
      const [row] = await db.select().from(runtimeSettings).where(eq(runtimeSettings.key, KEY));
      const next = (row?.value as { mode?: RuntimeMode } | undefined)?.mode ?? 'normal';
      if (next !== mode) logger.warn({ from: mode, to: next }, 'runtime mode changed');
      mode = next;
      failing = false;
    } catch (error) {
      if (!failing) logger.error({ err: error, mode }, 'runtime mode unreadable; keeping the last known');
      failing = true;
    }
  };

  return {
    get mode(): RuntimeMode {
      return mode;
    },
    async start(): Promise<void> {
      await load();
      timer = setInterval(load, pollMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
    },
    /** Writes the mode in the caller's transaction; this instance applies it once that commits. */
    async write(tx: Tx, next: RuntimeMode, updatedBy: string): Promise<void> {
      await tx
        .insert(runtimeSettings)
        .values({ key: KEY, value: { mode: next }, updatedBy })
        .onConflictDoUpdate({
          target: runtimeSettings.key,
          set: { value: { mode: next }, updatedBy, updatedAt: new Date() },
        });
    },
    apply(next: RuntimeMode): void {
      mode = next;
    },
  };
}

export type RuntimeModeStore = ReturnType<typeof createRuntimeModeStore>;

/** read_only refuses every write under /v1 (but signing in and switching the mode back). */
export const runtimeModeGate =
  (store: RuntimeModeStore): MiddlewareHandler =>
  async (c, next) => {
    if (store.mode === 'read_only' && !READS.has(c.req.method) && !READ_ONLY_EXEMPT.has(c.req.path)) {
      throw new AppError('read_only_mode', { headers: { 'Retry-After': RETRY_AFTER_S } });
    }
    await next();
  };

/** Marks a route as heavy work (exports, bulk admin jobs): refused while the mode is `degraded`. */
export const heavyWork = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (c.get('services').runtimeMode.mode === 'degraded')
    throw new AppError('degraded_mode', { headers: { 'Retry-After': RETRY_AFTER_S } });
  await next();
};
