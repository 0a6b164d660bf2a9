// The same class as issue 10 #1 on the way out: a download or range stream whose store dies mid-way
// must end that response only, never the process.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedS3Handle, startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { randomFile, upload } from './support/uploads.ts';

const MiB = 1024 * 1024;
let dir: string;
let s3: EmbeddedS3Handle;
let s3Port: number;
let server: TestServer;
let alice: Session;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-downloads-'));
  await chmod(dir, 0o755);
  s3Port = await freePort();
  s3 = await startEmbeddedS3({ dir, port: s3Port, buckets: ['downloads'] });
  server = await startTestServer({ env: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: 'downloads' } });
  alice = await api(server).signUp('alice');
});

afterAll(async () => {
  await server.shutdown('done');
  await s3.stop().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** Starts a download, reads `readFirst` bytes, then stops the store; resolves with what the client saw. */
function downloadWhileStoreDies(path: string, headers: Record<string, string>, readFirst: number) {
  return new Promise<{ status?: number; received: number; outcome: string }>((resolve) => {
    let received = 0;
    let stopping = false;
    get(
      `${server.url}${path}`,
      { headers: { authorization: `Bearer ${alice.accessToken}`, ...headers } },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= readFirst && !stopping) {
            stopping = true;
            res.pause();
            void s3.stop().then(() => res.resume());
          }
        });
        res.on('end', () => resolve({ status: res.statusCode, received, outcome: 'end' }));
        res.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ status: res.statusCode, received, outcome: error.code ?? error.message }),
        );
      },
    ).on('error', (error: NodeJS.ErrnoException) =>
      resolve({ received, outcome: error.code ?? error.message }),
    );
  });
}

describe('a store that dies during a download', () => {
  it.each([
    ['whole document', {}],
    ['range', { range: 'bytes=1000-' }],
  ])('%s: that response is cut short, the process keeps serving', async (_name, headers) => {
    const bytes = randomFile(24 * MiB);
    const created = await upload(server, alice.accessToken, { bytes });
    expect(created.status).toBe(201);
    const id = created.body!.document.id as string;
    try {
      const result = await downloadWhileStoreDies(`/v1/documents/${id}/content`, headers, MiB);
      expect(result.received).toBeLessThan(bytes.length);
      expect(result.outcome).not.toBe('end');
    } finally {
      s3 = await startEmbeddedS3({ dir, port: s3Port, buckets: ['downloads'] });
    }
    await sleep(100);
    const me = await fetch(`${server.url}/v1/me`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    expect(me.status).toBe(200);
  });
});
