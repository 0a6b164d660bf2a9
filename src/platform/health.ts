import { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';

/** A readiness dependency: resolves when healthy, rejects (or resolves false) when not. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<unknown>;

type CheckResult = {
  status: 'pass' | 'fail';
  duration_ms: number;
  reason?: 'timeout' | 'unreachable' | 'behind';
};

const CHECK_TIMEOUT_MS = 2000;
const HEALTH_JSON = 'application/health+json';

async function run(check: ReadinessCheck): Promise<CheckResult & { error?: unknown }> {
  const started = performance.now();
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  const duration = () => Math.round(performance.now() - started);
  try {
    const healthy = (await check(signal)) !== false;
    return healthy
      ? { status: 'pass', duration_ms: duration() }
      : { status: 'fail', duration_ms: duration(), reason: 'behind' };
  } catch (error) {
    const reason = signal.aborted ? 'timeout' : 'unreachable';
    return { status: 'fail', duration_ms: duration(), reason, error };
  }
}

/**
 * Kubernetes-style probes as application/health+json. Bodies name checks and generic reasons only:
 * driver messages carry hostnames and ports, so they go to the log, once per change of state.
 */
export function healthRoutes(deps: {
  lifecycle: Lifecycle;
  checks: Record<string, ReadinessCheck>;
  logger: Logger;
}) {
  const app = new Hono<AppEnv>();
  const lastStatus = new Map<string, CheckResult['status']>();
  const health = (status: 'pass' | 'fail', checks: Record<string, unknown> = {}) =>
    new Response(JSON.stringify({ status, checks }), {
      status: status === 'pass' ? 200 : 503,
      headers: { 'Content-Type': HEALTH_JSON, 'Cache-Control': 'no-store' },
    });

  app.get('/livez', () => health('pass'));

  app.get('/startupz', () => health(deps.lifecycle.phase === 'starting' ? 'fail' : 'pass'));

  app.get('/readyz', async () => {
    if (deps.lifecycle.stopping)
      return health('fail', { shutdown: { status: 'fail', reason: 'shutting_down' } });
    const names = Object.keys(deps.checks);
    const results = await Promise.all(names.map((name) => run(deps.checks[name]!)));
    const checks: Record<string, CheckResult> = {};
    names.forEach((name, i) => {
      const { error, ...result } = results[i]!;
      checks[name] = result;
      if (lastStatus.get(name) !== result.status) {
        lastStatus.set(name, result.status);
        const level = result.status === 'pass' ? 'info' : 'warn';
        deps.logger[level](
          { check: name, ...result, err: error },
          `readiness check ${name}: ${result.status}`,
        );
      }
    });
    const ready = results.every((result) => result.status === 'pass') && deps.lifecycle.phase === 'ready';
    return health(ready ? 'pass' : 'fail', checks);
  });

  return app;
}
