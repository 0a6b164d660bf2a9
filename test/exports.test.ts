// Exports end to end: the real API in this process, real worker processes, a real object store (behind
// a throttling proxy where a test must act mid-export), and Debian's unzip judging every archive.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';
import { fromPublicId } from '../src/platform/ids.ts';
import { createStorage, listKeys } from '../src/storage/storage.ts';
import { api, type Json, type Session } from './support/api.ts';
import { stack, startTestServer, type TestServer } from './support/harness.ts';
import { startThrottleProxy } from './support/throttle-proxy.ts';
import { sha256, upload } from './support/uploads.ts';
import { type SpawnedWorker, spawnWorker } from './support/worker.ts';

const MiB = 1024 * 1024;
const BIG = 20 * MiB;

let server: TestServer;
let client: ReturnType<typeof api>;
let owner: Session;
let other: Session;
let sql: postgres.Sql;
let dir: string;
let slowS3: string;
type Doc = { id: string; name: string; bytes: Uint8Array };
const docs: Doc[] = [];
const workers: SpawnedWorker[] = [];

const call = (
  session: Session,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => client.call(method, path, { token: session.accessToken, body, headers });

const setMode = (mode: string) =>
  sql`insert into runtime_settings (key, value) values ('runtime_mode', ${sql.json({ mode })})
      on conflict (key) do update set value = excluded.value, updated_at = now()`;

async function exportOf(id: string, session = owner): Promise<Json> {
  const response = await call(session, 'GET', `/v1/exports/${id}`);
  expect(response.status).toBe(200);
  return response.body!;
}

async function waitFor(id: string, done: (view: Json) => boolean, timeoutMs = 60_000): Promise<Json> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(200)) {
    const view = await exportOf(id);
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`export ${id} stuck: ${JSON.stringify(view)}`);
  }
}

async function download(id: string, file: string) {
  const response = await fetch(`${server.url}/v1/exports/${id}/content`, {
    headers: { authorization: `Bearer ${owner.accessToken}` },
  });
  expect(response.status).toBe(200);
  await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
  return response.headers;
}

const keysOf = async (exportId: string) => {
  const storage = createStorage({ ...server.config.s3, endpoint: server.config.s3.endpoint! });
  try {
    return await listKeys(
      storage,
      `exports/${fromPublicId('usr', owner.user.id)}/${fromPublicId('exp', exportId)}/`,
    );
  } finally {
    storage.close();
  }
};

const auditOf = async (exportId: string) =>
  (
    await sql<{ type: string }[]>`select type from audit_events
      where target_type = 'export' and target_id = ${fromPublicId('exp', exportId)!} order by seq`
  ).map((row) => row.type);

beforeAll(async () => {
  server = await startTestServer({
    env: { RUNTIME_MODE_POLL_MS: '500', ALLOWED_CONTENT_TYPES: 'application/*' },
  });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2, onnotice: () => {} });
  dir = await mkdtemp(join(tmpdir(), 'stowage-exports-'));
  [owner, other] = await Promise.all([client.signUp('owner'), client.signUp('other')]);
  // 3 × 20 MiB first (exports run in creation order), then 298 small ones with awkward, colliding names.
  const names = [
    ...['big-1.bin', 'big-2.bin', 'big-3.bin'],
    ...Array.from(
      { length: 298 },
      (_, i) =>
        [
          'report.pdf',
          'Report.PDF',
          '../../etc/passwd',
          '/absolute/path.txt',
          'notes',
          '.hidden',
          'résumé.txt',
          `file-${i}.txt`,
        ][i % 8]!,
    ),
  ];
  // The big ones one after the other, so that they are the first three in creation order.
  for (let start = 0; start < names.length; start += start < 3 ? 1 : 8) {
    const batch = names.slice(start, start < 3 ? start + 1 : start + 8).map(async (name, offset) => {
      const bytes = new Uint8Array(
        randomBytes(start + offset < 3 ? BIG : 1 + (((start + offset) * 37) % 8192)),
      );
      const response = await upload(server, owner.accessToken, {
        bytes,
        name,
        type: 'application/octet-stream',
      });
      expect(response.status).toBe(201);
      return {
        id: response.body!.document.id as string,
        name: response.body!.document.name as string,
        bytes,
      };
    });
    docs.push(...(await Promise.all(batch)));
  }
  // Names the API never stores (it keeps a file name's last segment, without control characters) but an
  // old row or a manual fix might hold: traversal, an absolute path, control characters.
  for (const [index, name] of [
    [7, '../../etc/passwd'],
    [8, '/absolute/path.txt'],
    [10, 'tab\there\u0007.txt'],
  ] as const) {
    await sql`update documents set name = ${name} where id = ${fromPublicId('doc', docs[index]!.id)!}`;
    docs[index]!.name = name;
  }
  // The worker that must be caught mid-export reads the store at 6 MiB/s.
  slowS3 = await startThrottleProxy(stack().s3Endpoint, 6 * MiB);
}, 180_000);

afterAll(async () => {
  await sql.end();
  await rm(dir, { recursive: true, force: true });
});

describe('exports', () => {
  it('one active export per account, Idempotency-Key replays, another account gets 404 on every route', async () => {
    const body = { document_ids: [docs[3]!.id, docs[4]!.id] };
    const key = { 'idempotency-key': '"export-once"' };
    const first = await call(owner, 'POST', '/v1/exports', body, key);
    expect(first.status).toBe(202);
    const id = first.body!.export.id as string;
    expect(id).toMatch(/^exp_[0-9a-z]{26}$/);
    expect(first.headers.get('location')).toBe(`/v1/exports/${id}`);
    expect(first.body!.export).toMatchObject({
      status: 'queued',
      size_bytes: null,
      sha256: null,
      error: null,
    });
    const replay = await call(owner, 'POST', '/v1/exports', body, key);
    expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body!.export.id]).toEqual([
      202,
      'true',
      id,
    ]);
    const second = await call(owner, 'POST', '/v1/exports', {});
    expect([second.status, second.body?.code]).toEqual([409, 'export_in_progress']);
    for (const [method, path] of [
      ['GET', `/v1/exports/${id}`],
      ['GET', `/v1/exports/${id}/content`],
      ['DELETE', `/v1/exports/${id}`],
    ] as const) {
      const response = await call(other, method, path);
      expect([method, path, response.status, response.body?.code]).toEqual([method, path, 404, 'not_found']);
    }
    expect((await call(other, 'GET', '/v1/exports')).body).toEqual({ data: [], next_cursor: null });
    const notReady = await call(owner, 'GET', `/v1/exports/${id}/content`);
    expect([notReady.status, notReady.body?.code]).toEqual([409, 'export_not_ready']);
    expect((await call(owner, 'DELETE', `/v1/exports/${id}`)).status).toBe(204);
    expect((await exportOf(id)).status).toBe('canceled');
    const unknown = await call(owner, 'POST', '/v1/exports', {
      document_ids: [docs[0]!.id, 'doc_00000000000000000000000000'],
    });
    expect(unknown.status).toBe(422);
  });

  it('degraded mode refuses new exports with 503; a queued one starts only once the mode is normal again', async () => {
    // Queued while no worker runs: the big document first, so the run lasts long enough to delete one.
    const created = await call(owner, 'POST', '/v1/exports', {
      document_ids: [docs[0]!.id, docs[5]!.id, docs[6]!.id],
    });
    expect(created.status).toBe(202);
    const id = created.body!.export.id as string;
    await setMode('degraded');
    await expect
      .poll(async () => (await call(other, 'POST', '/v1/exports', {})).body?.code, { timeout: 5000 })
      .toBe('degraded_mode');
    const refused = await call(other, 'POST', '/v1/exports', {});
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '30']);
    workers.push(
      await spawnWorker(server, {
        S3_ENDPOINT: slowS3,
        WORKER_SHUTDOWN_TIMEOUT_MS: '1000',
        EXPORT_RETRY_DELAY_S: '1',
      }),
    );
    await sleep(3000);
    expect((await exportOf(id)).status).toBe('queued');
    await setMode('normal');
    // A running export shows its totals (the selection is made before it is claimed).
    const running = await waitFor(id, (view) => view.status === 'running', 10_000);
    expect(running).toMatchObject({ documents_total: 3, documents_done: 0 });
    // Deleted while its export runs (the worker is still on the 20 MiB one): left out, and said so.
    const [deleted] = docs.splice(5, 1);
    const [kept] = [docs[5]!];
    expect((await call(owner, 'DELETE', `/v1/documents/${deleted!.id}`)).status).toBe(204);
    const done = await waitFor(id, (view) => view.status === 'succeeded' || view.status === 'failed');
    const failures = workers[0]!.logs.filter((line) => line.msg === 'job failed');
    expect(done, JSON.stringify(failures)).toMatchObject({ documents_total: 3, documents_done: 3 });
    const file = join(dir, 'degraded.zip');
    await download(id, file);
    const manifest = JSON.parse(execFileSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }));
    expect(manifest.documents.map((entry: Json) => entry.id)).toEqual([docs[0]!.id, kept!.id]);
    expect(manifest.omitted).toEqual([{ id: deleted!.id, name: deleted!.name, reason: 'deleted' }]);
  }, 90_000);

  it('DELETE cancels a running export within 10 s: status canceled, no object left', async () => {
    const created = await call(owner, 'POST', '/v1/exports', {
      document_ids: docs.slice(0, 3).map((d) => d.id),
    });
    const id = created.body!.export.id as string;
    await waitFor(id, (view) => view.status === 'running', 20_000);
    await sleep(1500);
    expect((await exportOf(id)).status).toBe('running');
    const started = Date.now();
    expect((await call(owner, 'DELETE', `/v1/exports/${id}`)).status).toBe(204);
    expect((await exportOf(id)).status).toBe('canceled');
    await expect
      .poll(() => workers[0]!.logs.some((line) => line.msg?.toString().startsWith('export canceled')), {
        timeout: 10_000,
      })
      .toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await keysOf(id)).toEqual([]);
    expect((await exportOf(id)).status).toBe('canceled');
    expect(await auditOf(id)).toEqual(['export.created', 'export.canceled']);
  }, 60_000);

  it('300 documents, a worker stopped mid-export: another finishes it; the ZIP passes unzip -t and matches its manifest', async () => {
    expect(docs).toHaveLength(300);
    const created = await call(owner, 'POST', '/v1/exports', {});
    const id = created.body!.export.id as string;
    const [slow] = workers;
    await waitFor(id, (view) => view.status === 'running' && view.documents_total === 300, 20_000);
    workers.push(await spawnWorker(server, { EXPORT_RETRY_DELAY_S: '1' }));
    // Still on the 20 MiB documents at 6 MiB/s: SIGTERM hands the job back and aborts its upload.
    expect((await exportOf(id)).status).toBe('running');
    slow!.child.kill('SIGTERM');
    expect((await slow!.exited).code).toBe(0);
    // Handed back (failed, to be retried), its upload aborted before the process exited.
    const stopping = slow!.logs.findIndex((line) => line.msg === 'worker stopping: no new jobs are fetched');
    expect(
      slow!.logs.slice(stopping).filter((line) => line.queue === 'export' && line.msg === 'job failed')
        .length,
      JSON.stringify(slow!.logs.slice(-8)),
    ).toBe(1);
    // Until it succeeded, nothing is downloadable, whatever attempt is running.
    let view = await exportOf(id);
    while (view.status !== 'succeeded') {
      expect(['running', 'queued']).toContain(view.status);
      const early = await call(owner, 'GET', `/v1/exports/${id}/content`);
      expect([early.status, early.body?.code]).toEqual([409, 'export_not_ready']);
      await sleep(250);
      view = await exportOf(id);
    }
    expect(view).toMatchObject({ documents_total: 300, documents_done: 300, error: null });
    expect(view.bytes_done).toBe(docs.reduce((sum, doc) => sum + doc.bytes.length, 0));
    const file = join(dir, 'all.zip');
    const headers = await download(id, file);
    expect(headers.get('content-type')).toBe('application/zip');
    expect(headers.get('content-disposition')).toMatch(
      /^attachment; filename="stowage-export-\d{4}-\d{2}-\d{2}\.zip"$/,
    );
    const zip = await readFile(file);
    expect([zip.length, sha256(zip)]).toEqual([view.size_bytes, view.sha256]);
    expect(headers.get('etag')).toBe(`"${view.sha256}"`);
    expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
    // Only the finished attempt's object remains.
    expect(await keysOf(id)).toHaveLength(1);
    const range = await fetch(`${server.url}/v1/exports/${id}/content`, {
      headers: { authorization: `Bearer ${owner.accessToken}`, range: 'bytes=0-3' },
    });
    expect([range.status, range.headers.get('content-range')]).toEqual([206, `bytes 0-3/${view.size_bytes}`]);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(Buffer.from('PK\x03\x04', 'latin1'));
    const redirect = await fetch(`${server.url}/v1/exports/${id}/content?redirect=true`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    const presigned = await fetch(redirect.headers.get('location')!);
    expect([presigned.status, sha256(Buffer.from(await presigned.arrayBuffer()))]).toEqual([
      200,
      view.sha256,
    ]);
    expect(await auditOf(id)).toEqual([
      'export.created',
      'export.downloaded',
      'export.downloaded',
      'export.downloaded',
    ]);

    const out = join(dir, 'all');
    execFileSync('unzip', ['-q', file, '-d', out]);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.omitted).toEqual([]);
    expect(manifest.documents).toHaveLength(300);
    const byId = new Map(docs.map((doc) => [doc.id, doc]));
    const paths = new Set<string>();
    for (const entry of manifest.documents) {
      const doc = byId.get(entry.id)!;
      expect(entry).toMatchObject({
        name: doc.name,
        size_bytes: doc.bytes.length,
        content_type: 'application/octet-stream',
      });
      expect(entry.sha256).toBe(sha256(doc.bytes));
      expect(sha256(await readFile(join(out, entry.path)))).toBe(entry.sha256);
      expect(entry.path).toMatch(/^documents\/[^/\\]+$/);
      expect(entry.path).not.toMatch(/[\p{Cc}]|^documents\/\.|\/\.\.(\/|$)/u);
      paths.add(entry.path.toLowerCase());
    }
    expect(paths.size).toBe(300);
    const reports = manifest.documents
      .filter((entry: Json) => /^report/i.test(entry.name))
      .map((e: Json) => e.path);
    // 76 documents named report.pdf or Report.PDF: one keeps the name, the others are numbered 2…76.
    expect(reports).toHaveLength(76);
    expect(reports.filter((path: string) => /^documents\/report\.pdf$/i.test(path))).toHaveLength(1);
    expect(new Set(reports.map((path: string) => Number(/ \((\d+)\)\.pdf$/i.exec(path)?.[1] ?? 1)))).toEqual(
      new Set(Array.from({ length: 76 }, (_, i) => i + 1)),
    );
    const pathOf = (doc: Doc) => manifest.documents.find((entry: Json) => entry.id === doc.id)?.path;
    // docs[5] was deleted by the degraded-mode test: the indexes above moved down by one.
    expect([pathOf(docs[6]!), pathOf(docs[7]!), pathOf(docs[9]!)]).toEqual([
      'documents/_.._etc_passwd',
      'documents/_absolute_path.txt',
      'documents/tabhere.txt',
    ]);
  }, 180_000);

  it('a forced-ZIP64 archive passes unzip -t too', async () => {
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((worker) => worker.exited));
    workers.push(await spawnWorker(server, { EXPORT_FORCE_ZIP64: 'true' }));
    const picked = docs.slice(0, 1).concat(docs.slice(3, 20));
    const created = await call(owner, 'POST', '/v1/exports', { document_ids: picked.map((doc) => doc.id) });
    const id = created.body!.export.id as string;
    const view = await waitFor(id, (v) => v.status === 'succeeded');
    const file = join(dir, 'zip64.zip');
    await download(id, file);
    const zip = await readFile(file);
    // The ZIP64 end of central directory record and its locator.
    expect(zip.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(zip.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
    expect(sha256(zip)).toBe(view.sha256);
    expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
    const listed = execFileSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' });
    const manifest = JSON.parse(listed);
    for (const entry of manifest.documents) {
      const bytes = execFileSync('unzip', ['-p', file, entry.path], { maxBuffer: 64 * MiB });
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    }
  }, 60_000);

  it('a worker SIGKILLed mid-export: its job is taken over after the missed heartbeat; the ZIP is whole, nothing partial is visible', async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((worker) => worker.exited));
    const big = docs.slice(0, 3);
    const slow = await spawnWorker(server, { S3_ENDPOINT: slowS3, EXPORT_RETRY_DELAY_S: '1' });
    workers.push(slow);
    const created = await call(owner, 'POST', '/v1/exports', { document_ids: big.map((doc) => doc.id) });
    expect(created.status).toBe(202);
    const id = created.body!.export.id as string;
    await waitFor(id, (view) => view.status === 'running' && view.bytes_done > 0, 30_000);
    // No SIGTERM, no hand-back: the process is gone mid-stream, its multipart upload left open.
    slow.child.kill('SIGKILL');
    await slow.exited;
    workers.push(await spawnWorker(server, { EXPORT_RETRY_DELAY_S: '1' }));
    let view = await exportOf(id);
    for (const deadline = Date.now() + 150_000; view.status !== 'succeeded'; view = await exportOf(id)) {
      expect(['running', 'queued']).toContain(view.status);
      const early = await call(owner, 'GET', `/v1/exports/${id}/content`);
      expect([early.status, early.body?.code]).toEqual([409, 'export_not_ready']);
      if (Date.now() > deadline) throw new Error(`export ${id} not taken over: ${JSON.stringify(view)}`);
      await sleep(500);
    }
    expect(view).toMatchObject({ documents_total: 3, documents_done: 3, error: null });
    const file = join(dir, 'after-kill.zip');
    await download(id, file);
    const zip = await readFile(file);
    expect([zip.length, sha256(zip)]).toEqual([view.size_bytes, view.sha256]);
    expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
    // The killed attempt never completed its upload: only the finished attempt's object exists.
    expect(await keysOf(id)).toHaveLength(1);
  }, 200_000);

  it('an export that keeps failing is retried, then dead-lettered and marked failed', async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGTERM');
    await Promise.all(workers.map((worker) => worker.exited));
    // A worker whose object store refuses every connection.
    const broken = await spawnWorker(server, {
      S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      EXPORT_RETRY_DELAY_S: '1',
    });
    workers.push(broken);
    const created = await call(owner, 'POST', '/v1/exports', { document_ids: [docs[3]!.id] });
    const id = created.body!.export.id as string;
    const view = await waitFor(id, (v) => v.status === 'failed', 90_000);
    expect(view.error).toEqual({
      code: 'export_failed',
      detail: 'The export failed repeatedly; create a new one',
    });
    expect(view.finished_at).not.toBeNull();
    // The first attempt and three retries, then the dead-letter queue's handler.
    expect(broken.logs.filter((line) => line.queue === 'export' && line.msg === 'job failed')).toHaveLength(
      4,
    );
    await expect
      .poll(() => broken.logs.some((line) => line.queue === 'export-dead' && line.msg === 'job completed'))
      .toBe(true);
    const notReady = await call(owner, 'GET', `/v1/exports/${id}/content`);
    expect([notReady.status, notReady.body?.code]).toEqual([409, 'export_not_ready']);
  }, 120_000);
});
