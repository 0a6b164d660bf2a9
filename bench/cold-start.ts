// Cold start: from `node` exec to the first /readyz 200, against an already-running Postgres and S3.
// Measures the source entry (Node strips the types) and the built one (`pnpm build`, what containers run).
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/dev/free-port.ts';
import { treeCpuMs } from './cpu.ts';
import { startOtlpSink } from './otlp-sink.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 5;

export type Stack = { databaseUrl: string; s3Endpoint: string; bucket: string };

/** The environment of an API process under benchmark, on this run's Postgres and s3rver. */
export const serverEnv = (stack: Stack, port: number, extra: Record<string, string> = {}) => ({
  ...process.env,
  NODE_ENV: 'development',
  PORT: String(port),
  LOG_LEVEL: 'warn',
  DATABASE_URL: stack.databaseUrl,
  S3_ENDPOINT: stack.s3Endpoint,
  S3_BUCKET: stack.bucket,
  METRICS_PORT: '0', // several servers run at once
  ...extra,
});

/**
 * Wall time to the first /readyz 200, and the CPU the process used until then (steadier on a busy VM).
 * `root`: the checkout whose build runs (the compare benchmark starts another revision's).
 */
export async function startOnce(
  entry: string,
  stack: Stack,
  extra: Record<string, string> = {},
  root = ROOT,
): Promise<{ ms: number; cpu: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: serverEnv(stack, port, extra),
    stdio: 'ignore',
  });
  try {
    while (performance.now() - started < 30_000) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return { ms: performance.now() - started, cpu: await treeCpuMs(child.pid!) };
      await sleep(5);
    }
    throw new Error(`${entry} not ready within 30 s`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function coldStart(stack: Stack) {
  // Tracing on: the SDK chunk is loaded and started (its exports go to a sink that drops them).
  const sink = await startOtlpSink();
  const variants = [
    ['cold start: node src/main.ts', 'src/main.ts', {}],
    ['cold start: node dist/main.js', 'dist/main.js', {}],
    ['cold start: node dist/main.js, telemetry off', 'dist/main.js', { METRICS_ENABLED: 'false' }],
    [
      'cold start: node dist/main.js, tracing on',
      'dist/main.js',
      { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint },
    ],
  ] as const;
  const runs: { ms: number; cpu: number }[][] = variants.map(() => []);
  try {
    // Interleaved: the VM's speed drifts between runs, and the variants are compared with each other.
    for (let i = 0; i < RUNS; i++) {
      for (const [index, [, entry, extra]] of variants.entries())
        runs[index]!.push(await startOnce(entry, stack, extra));
    }
  } finally {
    await sink.close();
  }
  return variants.map(([name], index) => ({
    benchmark: name,
    result: `${Math.round(median(runs[index]!.map((r) => r.ms)))} ms median, ${median(runs[index]!.map((r) => r.cpu))} ms CPU`,
    note: `runs ${runs[index]!.map((r) => Math.round(r.ms)).join(' ')}; CPU ms ${runs[index]!.map((r) => r.cpu).join(' ')}`,
  }));
}
