// An export of 1 GiB across 50 documents by the built worker (`node dist/worker.js`, its RSS sampled from
// /proc) against a plain copy of the same 50 objects into one multipart upload, in the same run.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Upload } from '@aws-sdk/lib-storage';
import postgres from 'postgres';
import { newUuid } from '../src/platform/ids.ts';
import { type Stack, serverEnv } from './cold-start.ts';
import { benchAccount, benchStorage, startApi } from './server.ts';

const MiB = 1024 * 1024;
const DOCUMENTS = 50;
const EACH = Math.ceil(1024 ** 3 / DOCUMENTS);
const BLOCK = randomBytes(MiB);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const body = (size: number) =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < size; sent += BLOCK.length)
        yield BLOCK.subarray(0, Math.min(BLOCK.length, size - sent));
    })(),
  );

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function startWorker(stack: Stack) {
  const child = spawn(process.execPath, ['dist/worker.js'], {
    cwd: ROOT,
    env: serverEnv(stack, 0, { LOG_LEVEL: 'info', METRICS_PORT: '0', JOBS_POLL_INTERVAL_MS: '500' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (JSON.parse(line).msg === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code})`)));
  });
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

export async function exportBenchmark(stack: Stack) {
  const storage = benchStorage(stack);
  const api = await startApi(stack);
  const worker = await startWorker(stack);
  const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const account = await benchAccount(api.url, 'export');
    const [user] = await sql<{ id: string }[]>`select id from users where email = ${account.email}`;
    // The documents go straight to the store and the table: the benchmark is about the export.
    await sql`delete from documents where user_id = ${user!.id}`;
    const keys: string[] = [];
    for (let i = 0; i < DOCUMENTS; i++) {
      const id = newUuid();
      const key = `documents/${user!.id}/${id}`;
      await new Upload({
        client: storage.client,
        params: { Bucket: stack.bucket, Key: key, Body: body(EACH) },
        partSize: 8 * MiB,
        queueSize: 2,
      }).done();
      await sql`insert into documents (id, user_id, name, content_type, size_bytes, sha256, storage_key, status)
                values (${id}, ${user!.id}, ${`part-${i}.bin`}, 'application/octet-stream', ${EACH}, '-', ${key}, 'ready')`;
      keys.push(key);
    }

    await sleep(1000);
    const baseline = rssOf(worker.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(worker.pid));
    }, 50);
    const headers = { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' };
    const created = await fetch(`${api.url}/v1/exports`, { method: 'POST', headers, body: '{}' });
    const { export: queued } = (await created.json()) as { export: { id: string } };
    let view: Record<string, unknown> = {};
    while (view.status !== 'succeeded') {
      if (view.status === 'failed' || view.status === 'canceled') throw new Error(`export ${view.status}`);
      await sleep(100);
      view = (await (await fetch(`${api.url}/v1/exports/${queued.id}`, { headers })).json()) as Record<
        string,
        unknown
      >;
    }
    clearInterval(sampler);
    const exportSeconds =
      (Date.parse(view.finished_at as string) - Date.parse(view.started_at as string)) / 1000;

    // The same bytes, read object by object and written as one multipart upload: no ZIP, no hashing.
    const copyStarted = performance.now();
    const copy = new Upload({
      client: storage.client,
      params: {
        Bucket: stack.bucket,
        Key: 'bench/export-copy',
        Body: Readable.from(
          (async function* () {
            for (const key of keys) yield* await storage.get(key, undefined, AbortSignal.timeout(600_000));
          })(),
        ),
      },
      partSize: 8 * MiB,
      queueSize: 1,
    });
    await copy.done();
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const total = EACH * DOCUMENTS;
    const exportMiBs = total / MiB / exportSeconds;
    const copyMiBs = total / MiB / copySeconds;
    return [
      {
        benchmark: `export 1 GiB (${DOCUMENTS} documents): worker RSS growth`,
        result: `${((peak - baseline) / MiB).toFixed(1)} MiB`,
        note: `baseline ${(baseline / MiB).toFixed(1)} MiB; target < 100 MiB`,
      },
      {
        benchmark: `export 1 GiB (${DOCUMENTS} documents): throughput vs plain copy`,
        result: `${(exportMiBs / copyMiBs).toFixed(2)}×`,
        note: `export ${exportMiBs.toFixed(0)} MiB/s (${exportSeconds.toFixed(1)} s), copy ${copyMiBs.toFixed(0)} MiB/s (${copySeconds.toFixed(1)} s); target ≥ 0.5`,
      },
    ];
  } finally {
    await sql.end();
    await worker.stop();
    await api.stop();
    storage.close();
  }
}
