// (f) Where tracing's time goes, without HTTP or Postgres noise: the span work of one request to the
// hardening-tax route (SERVER span + rate-limit span + one SELECT span + the access line with trace ids),
// repeated in a child process: off; spans created but never exported (the loop never yields to I/O, so
// the batch processor cannot send); and spans exported to a local OTLP sink (the loop yields every 20).
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/platform/logger.ts';
import { requestContext } from '../src/platform/request-context.ts';
import { startServerSpan, startSpan } from '../src/telemetry/tracing.ts';
import { startOtlpSink } from './otlp-sink.ts';

const N = 20_000;
const QUERY =
  'select "id", "user_id", "name", "content_type", "size_bytes", "sha256", "storage_key", "status", "metadata", "version", "created_at", "updated_at" from "documents" where ("documents"."id" = $1 and "documents"."user_id" = $2 and "documents"."status" = $3) limit $4';

type Mode = 'off' | 'spans' | 'export';

const middleware = requestContext();
const standIn = {
  req: { header: () => 'req-1' },
  set: () => {},
  header: () => {},
  res: { headers: new Headers() },
};
const withContext = (next: () => Promise<void>) => middleware(standIn as never, next);

async function measure(mode: Mode): Promise<number> {
  const sink = await startOtlpSink();
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const logger = createLogger({ level: 'info', destination: discard as never });
  const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' });
  const tracing =
    mode === 'off'
      ? undefined
      : await (await import('../src/telemetry/sdk.ts')).startTracing(config.telemetry.tracing, logger);
  const request = async () => {
    const server = startServerSpan(
      'GET',
      { 'http.request.method': 'GET', 'stowage.request_id': 'req-1' },
      ROOT_CONTEXT,
    );
    const work = async () => {
      const limit = startSpan('ratelimit account', { 'stowage.ratelimit.policy': 'account' });
      await null;
      limit?.setAttribute('stowage.ratelimit.outcome', 'allowed');
      limit?.end();
      const query = startSpan('SELECT', {
        'db.system.name': 'postgresql',
        'db.operation.name': 'SELECT',
        'db.query.text': QUERY,
      });
      await null;
      query?.end();
      logger.info({ method: 'GET', route: '/v1/documents/:id', status: 200 }, 'request');
    };
    // The real request-context middleware on a stand-in for Hono's context: log lines get request_id.
    await withContext(() => (server ? context.with(trace.setSpan(ROOT_CONTEXT, server), work) : work()));
    if (server) {
      server.updateName('GET /v1/documents/:id');
      server.setAttributes({
        'http.response.status_code': 200,
        'http.route': '/v1/documents/:id',
        'url.scheme': 'http',
      });
      server.end();
    }
  };
  const loop = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await request();
      if (mode === 'export' && i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await loop(5000);
  const before = process.cpuUsage();
  await loop(N);
  if (mode === 'export') await tracing?.shutdown(); // the rest of the batches, counted
  const used = process.cpuUsage(before);
  if (mode !== 'export') await tracing?.shutdown();
  await sink.close();
  return (used.user + used.system) / N;
}

if (process.argv[2]) {
  console.log(JSON.stringify({ us: await measure(process.argv[2] as Mode) }));
}

/** Runs each mode in a fresh child, three times interleaved; medians of µs CPU per request. */
export async function spanCost() {
  const modes: Mode[] = ['off', 'spans', 'export'];
  const runs: Record<Mode, number[]> = { off: [], spans: [], export: [] };
  const self = fileURLToPath(import.meta.url);
  for (let round = 0; round < 3; round++) {
    for (const mode of modes) {
      const output = execFileSync(process.execPath, [self, mode], { encoding: 'utf8' });
      runs[mode].push(JSON.parse(output.trim().split('\n').at(-1)!).us);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  const [off, spans, exported] = [median(runs.off), median(runs.spans), median(runs.export)];
  return [
    {
      benchmark: `tracing cost per request, in-process (3 spans + access line, ${N} requests × 3 runs)`,
      result: `+${(spans - off).toFixed(1)} µs CPU creating spans, +${(exported - spans).toFixed(1)} µs exporting`,
      note: `µs CPU/request: off ${off.toFixed(1)}, spans ${spans.toFixed(1)}, spans + OTLP export ${exported.toFixed(1)}`,
    },
  ];
}
