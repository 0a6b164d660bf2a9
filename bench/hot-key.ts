// (d) One hot key: a single API key's decisions per second, 50 concurrent callers for 10 s. Measured on
// the limiter itself (both windows of the tier: two upserts per decision), then through HTTP.
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRateLimits } from '../src/platform/rate-limit/rate-limits.ts';
import type { Stack } from './cold-start.ts';
import { treeCpuMs } from './cpu.ts';
import { benchAccount, startApi } from './server.ts';

const SECONDS = Number(process.env.BENCH_HOT_KEY_S ?? 10);
const RAISED = '100000000/1m burst 10000000';

export async function hotKey(stack: Stack) {
  const config = loadConfig({
    DATABASE_URL: stack.databaseUrl,
    S3_ENDPOINT: stack.s3Endpoint,
    RATE_LIMIT_API_KEY_FREE: RAISED,
  });
  const limits = createRateLimits({
    config,
    databaseUrl: stack.databaseUrl,
    logger: createLogger({ level: 'warn' }),
  });
  let decisions = 0;
  let refused = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (performance.now() < deadline) {
        const decision = await limits.consume('api_key', 'key_hot', 'free');
        decisions++;
        if (!decision.allowed) refused++;
      }
    }),
  );
  const perSecond = Math.round(decisions / ((performance.now() - started) / 1000));
  const fallbacks = limits.fallbackDecisions;
  await limits.close();

  const api = await startApi(stack, { RATE_LIMIT_API_KEY_FREE: RAISED });
  try {
    const account = await benchAccount(api.url, 'hotkey');
    const created = await fetch(`${api.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hot' }),
    });
    const { key } = (await created.json()) as { key: string };
    const cpuBefore = await treeCpuMs(api.pid);
    const http = await autocannon({
      url: `${api.url}/v1/me`,
      connections: 50,
      duration: SECONDS,
      headers: { authorization: `Bearer ${key}` },
    });
    const cpuMs = ((await treeCpuMs(api.pid)) - cpuBefore) / Math.max(1, http.requests.total);
    return [
      {
        benchmark: `hot key: one API key, 50 callers, ${SECONDS} s`,
        result: `${perSecond} decisions/s`,
        cpu_ms: Math.round(cpuMs * 1000) / 1000,
        errors: refused + fallbacks,
        note: `through HTTP (GET /v1/me with the key, 50 conns): ${Math.round(http.requests.average)} req/s, p99 ${http.latency.p99} ms, non-2xx ${http.non2xx + http.errors}; cpu_ms: the server's, per HTTP request`,
      },
    ];
  } finally {
    await api.stop();
  }
}
