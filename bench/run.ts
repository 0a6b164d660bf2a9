// `pnpm bench`: starts its own embedded Postgres and s3rver (or uses DATABASE_URL / S3_ENDPOINT), builds
// the app, runs every benchmark against 127.0.0.1 only, prints one table and writes bench/results/*.json.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDatabase } from '../src/db/migrations.ts';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { coldStart } from './cold-start.ts';
import { compare } from './compare.ts';
import { exportBenchmark } from './export.ts';
import { flags } from './flags.ts';
import { hardeningTax, limiterOverhead } from './hardening-tax.ts';
import { hotKey } from './hot-key.ts';
import { hotPaths } from './hot-paths.ts';
import { sessionMix } from './session-mix.ts';
import { spanCost } from './span-cost.ts';
import { telemetryBudget } from './telemetry.ts';
import { uploadBenchmark } from './upload.ts';

const dir = await mkdtemp(join(tmpdir(), 'stowage-bench-'));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: await freePort() });
const s3 = await startEmbeddedS3({ dir: join(dir, 's3'), port: await freePort(), buckets: ['bench'] });
try {
  await pg.ensureDatabase('bench');
  await migrateDatabase(pg.url('bench'));
  execFileSync('pnpm', ['-s', 'build'], { stdio: 'inherit' });
  const stack = { databaseUrl: pg.url('bench'), s3Endpoint: s3.endpoint, bucket: 'bench' };

  // `pnpm bench cold-start hot-paths upload session-mix session-mix-paced hardening-tax limiter hot-key telemetry export flags`, or
  // `compare REV`: a subset; none: all but flags and compare.
  const only = process.argv.slice(2);
  const wanted = (name: string) => only.length === 0 || only.includes(name);
  const rows: Record<string, unknown>[] = [];
  if (wanted('cold-start')) rows.push(...(await coldStart(stack)));
  if (wanted('hot-paths')) rows.push(...(await hotPaths(stack)));
  if (wanted('upload')) rows.push(...(await uploadBenchmark(stack)));
  if (wanted('session-mix')) rows.push(...(await sessionMix(stack)));
  if (wanted('session-mix-paced')) rows.push(...(await sessionMix(stack, { paced: true })));
  if (wanted('hardening-tax')) rows.push(...(await hardeningTax(stack)));
  if (wanted('limiter')) rows.push(...(await limiterOverhead(stack)));
  if (wanted('hot-key')) rows.push(...(await hotKey(stack)));
  if (wanted('telemetry')) rows.push(...(await telemetryBudget(stack)), ...(await spanCost()));
  if (wanted('export')) rows.push(...(await exportBenchmark(stack)));
  if (only.includes('flags')) rows.push(...(await flags(stack))); // only when named: ~4 min
  // `compare REV` (only when named): REV's build against this checkout's, interleaved.
  const rev = only[only.indexOf('compare') + 1];
  if (only.includes('compare')) rows.push(...(await compare(stack, rev ?? 'HEAD')));

  console.log(`\nStowage benchmarks — Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model})`);
  console.table(rows, ['benchmark', 'result', 'cpu_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'errors', 'note']);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/${new Date().toISOString().replaceAll(':', '-')}.json`, import.meta.url);
  await writeFile(
    file,
    `${JSON.stringify({ node: process.version, at: new Date().toISOString(), rows }, null, 2)}\n`,
  );
  console.log(`results: ${file.pathname}`);
} finally {
  await Promise.allSettled([s3.stop(), pg.stop()]);
  await rm(dir, { recursive: true, force: true });
}
