// A bounded closed-loop load: `clients` loops, each sending one request at a time from `next()`, until
// `stop()` (or `maxMs`). Every outcome is kept with its latency, so a test can ask how failures failed.
import { performance } from 'node:perf_hooks';

export type Outcome = {
  at: number;
  ms: number;
  label: string;
  status: number;
  retryAfter: string | null;
  code?: string;
  error?: string;
};

export type Step = { label: string; run: (signal: AbortSignal) => Promise<Response> };

export function startLoad(options: {
  clients: number;
  next: (client: number) => Step;
  maxMs?: number;
  timeoutMs?: number;
}) {
  const outcomes: Outcome[] = [];
  let running = true;
  const started = performance.now();
  const maxMs = options.maxMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function loop(client: number) {
    while (running && performance.now() - started < maxMs) {
      const step = options.next(client);
      const t0 = performance.now();
      const outcome: Outcome = { at: t0 - started, ms: 0, label: step.label, status: 0, retryAfter: null };
      try {
        const response = await step.run(AbortSignal.timeout(timeoutMs));
        outcome.status = response.status;
        outcome.retryAfter = response.headers.get('retry-after');
        const text = await response.text();
        if (response.status >= 400 && text.startsWith('{')) outcome.code = JSON.parse(text).code;
      } catch (error) {
        outcome.error = (error as Error).name === 'TimeoutError' ? 'timeout' : (error as Error).message;
      }
      outcome.ms = performance.now() - t0;
      outcomes.push(outcome);
      if (outcome.error) await new Promise((r) => setTimeout(r, 50)); // a refused connection is instant
    }
  }
  const loops = Array.from({ length: options.clients }, (_, i) => loop(i));
  return {
    outcomes,
    /** Outcomes since `fromMs` (relative to the start). */
    since: (fromMs: number) => outcomes.filter((o) => o.at >= fromMs),
    elapsed: () => performance.now() - started,
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Failed outcomes must be fast, well-formed 503s (or 429s) with Retry-After; nothing may hang. */
export function summarize(outcomes: Outcome[]) {
  const failed = outcomes.filter((o) => o.error || o.status >= 500);
  const byStatus: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.error ? `error:${o.error.slice(0, 30)}` : `${o.status}${o.code ? ` ${o.code}` : ''}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  return {
    total: outcomes.length,
    ok: outcomes.filter((o) => o.status >= 200 && o.status < 400).length,
    failed: failed.length,
    failedP99Ms: Math.round(
      percentile(
        failed.map((o) => o.ms),
        99,
      ),
    ),
    timeouts: outcomes.filter((o) => o.error === 'timeout').length,
    badFailures: failed.filter((o) => o.error || o.status !== 503 || !o.retryAfter).length,
    byStatus,
  };
}
