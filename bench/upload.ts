// 1 GiB through POST /v1/documents (the built server, its RSS sampled from /proc) against a direct
// lib-storage upload of the same bytes to the same s3rver, in the same run.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Upload } from '@aws-sdk/lib-storage';
import postgres from 'postgres';
import { multipartFrame } from '../src/dev/multipart-frame.ts';
import type { Stack } from './cold-start.ts';
import { treeCpuMs } from './cpu.ts';
import { benchStorage, startApi } from './server.ts';

const SIZE = 1024 ** 3;
const BLOCK = randomBytes(1024 * 1024);
const MiB = 1024 * 1024;

/** SIZE bytes, produced on demand from one random block (nothing of it is held in memory). */
const bytes = () =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < SIZE; sent += BLOCK.length)
        yield BLOCK.subarray(0, Math.min(BLOCK.length, SIZE - sent));
    })(),
  );

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function json(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Record<string, unknown>;
}

function uploadThroughApi(base: string, token: string): Promise<number> {
  const { head, tail, contentType } = multipartFrame('big.pdf', 'application/pdf');
  const url = new URL(`${base}/v1/documents`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': contentType,
          'content-length': String(head.length + SIZE + tail.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 201 ? resolve(res.statusCode) : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.write(head);
    const body = bytes();
    body.pipe(req, { end: false });
    body.on('end', () => req.end(tail));
  });
}

/** One 1 GiB upload through a fresh server: its RSS growth (peak − before), wall time and CPU. */
export async function bigUpload(stack: Stack, nodeFlags?: string[]) {
  const server = await startApi(
    stack,
    { MAX_UPLOAD_BYTES: String(2 * SIZE), REQUEST_TIMEOUT_MS: '900000' },
    { nodeFlags },
  );
  const base = server.url;
  try {
    const email = `bench-${Date.now()}@example.com`;
    await json(`${base}/v1/auth/register`, { email, password: 'benchmark passphrase' });
    const sql = postgres(stack.databaseUrl, { max: 1 });
    await sql`update users set quota_bytes = ${4 * SIZE}, quota_custom = true where email = ${email}`;
    await sql.end();
    const token = (await json(`${base}/v1/auth/login`, { email, password: 'benchmark passphrase' }))
      .access_token as string;

    await sleep(500);
    const baseline = rssOf(server.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(server.pid));
    }, 50);
    const apiStarted = performance.now();
    const cpuBefore = await treeCpuMs(server.pid);
    await uploadThroughApi(base, token);
    const seconds = (performance.now() - apiStarted) / 1000;
    const cpuMs = (await treeCpuMs(server.pid)) - cpuBefore;
    clearInterval(sampler);
    return { baseline, growth: peak - baseline, seconds, cpuMs };
  } finally {
    await server.stop();
  }
}

export async function uploadBenchmark(stack: Stack) {
  // The production command line (`pnpm start`), flags included: the small young generation is what
  // keeps socket buffers from piling up between scavenges at upload speed.
  const { baseline, growth, seconds: apiSeconds, cpuMs } = await bigUpload(stack);
  const storage = benchStorage(stack);
  const directStarted = performance.now();
  await new Upload({
    client: storage.client,
    params: { Bucket: stack.bucket, Key: 'bench/direct', Body: bytes(), ContentType: 'application/pdf' },
    partSize: 8 * MiB,
    queueSize: 2,
  }).done();
  const directSeconds = (performance.now() - directStarted) / 1000;
  storage.close();

  return [
    {
      benchmark: 'upload 1 GiB through the API: server RSS growth',
      result: `${(growth / MiB).toFixed(1)} MiB`,
      note: `baseline ${(baseline / MiB).toFixed(1)} MiB`,
    },
    {
      benchmark: 'upload 1 GiB: throughput, API vs direct lib-storage → s3rver',
      result: `${(SIZE / MiB / apiSeconds).toFixed(1)} MiB/s`,
      cpu_ms: cpuMs,
      note: `direct ${(SIZE / MiB / directSeconds).toFixed(1)} MiB/s; ratio ${(directSeconds / apiSeconds).toFixed(2)}; API CPU ${(cpuMs / (SIZE / MiB)).toFixed(2)} ms per MiB (cpu_ms: the whole upload)`,
    },
  ];
}
