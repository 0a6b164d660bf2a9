// (e) Telemetry budget: the hardening-tax route (GET /v1/documents/{id}, session token, 50 connections)
// on three servers of the same build, running at once: telemetry off (METRICS_ENABLED=false, no OTLP
// endpoint), metrics only (the default), and metrics + 100 % tracing exported to a local OTLP sink that
// accepts and drops everything. They take turns in every round (the order rotating), and each round's
// ratio to "off" is reported as the median: on a shared 2-core VM back-to-back runs drift by tens of %.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import type { Stack } from './cold-start.ts';
import { benchAccount, startApi } from './server.ts';

const SECONDS = Number(process.env.BENCH_TAX_S ?? 4);
const ROUNDS = 5;
const WARM_UP_S = 3;

/** Answers every OTLP export 200 after reading it, like a collector that drops everything. */
export async function startOtlpSink() {
  let exports = 0;
  let bytes = 0;
  const server = createServer(async (request, response) => {
    for await (const chunk of request) bytes += (chunk as Buffer).length;
    exports++;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get exports() {
      return exports;
    },
    get bytes() {
      return bytes;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const reqPerS = async (url: string, token: string, duration: number) => {
  const result = await autocannon({
    url,
    connections: 50,
    duration,
    headers: { authorization: `Bearer ${token}` },
  });
  return { reqS: result.requests.average, p99: result.latency.p99, errors: result.non2xx + result.errors };
};

export async function telemetryBudget(stack: Stack) {
  const sink = await startOtlpSink();
  const variants = {
    off: await startApi(stack, { METRICS_ENABLED: 'false' }),
    metrics: await startApi(stack),
    tracing: await startApi(stack, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    }),
  };
  type Name = keyof typeof variants;
  const names = Object.keys(variants) as Name[];
  const targets = Object.fromEntries(
    await Promise.all(
      names.map(async (name) => {
        const account = await benchAccount(variants[name].url, `telemetry-${name}`);
        return [
          name,
          { url: `${variants[name].url}/v1/documents/${account.documentId}`, token: account.token },
        ];
      }),
    ),
  ) as Record<Name, { url: string; token: string }>;
  const runs: Record<Name, { reqS: number; p99: number; errors: number }[]> = {
    off: [],
    metrics: [],
    tracing: [],
  };
  try {
    for (const name of names) await reqPerS(targets[name].url, targets[name].token, WARM_UP_S);
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const name of order)
        runs[name].push(await reqPerS(targets[name].url, targets[name].token, SECONDS));
    }
  } finally {
    await Promise.all(Object.values(variants).map((api) => api.stop()));
    await sink.close();
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const ratio = (name: Name) => median(runs[name].map((run, i) => run.reqS / runs.off[i]!.reqS));
  const row = (name: Name, label: string) => ({
    benchmark: `telemetry budget: ${label}, GET /v1/documents/{id}, 50 conns, ${ROUNDS} × ${SECONDS} s, interleaved`,
    result:
      name === 'off'
        ? `${Math.round(median(runs.off.map((r) => r.reqS)))} req/s (median)`
        : `${((1 - ratio(name)) * 100).toFixed(1)} % fewer req/s than off (median of per-round ratios)`,
    p99_ms: median(runs[name].map((r) => r.p99)),
    errors: runs[name].reduce((n, r) => n + r.errors, 0),
    note: `req/s per round: ${runs[name].map((r) => Math.round(r.reqS)).join(' ')}${name === 'tracing' ? `; sink got ${sink.exports} exports, ${Math.round(sink.bytes / 1024)} KiB` : ''}`,
  });
  return [
    row('off', 'telemetry off'),
    row('metrics', 'metrics only'),
    row('tracing', 'metrics + 100 % tracing'),
  ];
}
