import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { type EmbeddedS3Handle, startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { createSweeper } from '../src/modules/documents/sweeper.ts';
import { fromPublicId } from '../src/platform/ids.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createStorage } from '../src/storage/storage.ts';
import { api, type Json, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import {
  bucketObjects,
  multipartFrame,
  randomFile,
  rawChunkedUpload,
  streamingUpload,
  upload,
} from './support/uploads.ts';

const MiB = 1024 * 1024;

let dir: string;
let s3: EmbeddedS3Handle;
let s3Port: number;
let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;

beforeAll(async () => {
  // A store of this file's own, so stopping it breaks no other test.
  dir = await mkdtemp(join(tmpdir(), 'stowage-faults-'));
  await chmod(dir, 0o755);
  s3Port = await freePort();
  s3 = await startEmbeddedS3({ dir, port: s3Port, buckets: ['faults'] });
  server = await startTestServer({
    env: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: 'faults', MAX_UPLOAD_BYTES: String(32 * MiB) },
  });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
});

afterAll(async () => {
  await sql.end();
  await server.shutdown('done');
  await s3.stop().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** What an account has in the database and the bucket. */
async function leftovers(session: Session) {
  const [user] = await sql`select id, bytes_used, document_count from users where email = ${session.email}`;
  const rows = await sql`select status, size_bytes from documents where user_id = ${user!.id}`;
  const objects = (await bucketObjects(server)).filter((o) => o.key.startsWith(`documents/${user!.id}/`));
  return { bytesUsed: Number(user!.bytes_used), count: user!.document_count as number, rows, objects };
}

async function eventuallyClean(session: Session) {
  for (let i = 0; i < 50; i++) {
    const state = await leftovers(session);
    if (state.rows.length === 0) return state;
    await sleep(100);
  }
  return leftovers(session);
}

/** Writes `total` bytes of a file part in 64 KiB chunks, honouring backpressure; stops at `stopAfter`. */
async function writeFile(req: import('node:http').ClientRequest, total: number, stopAfter = total) {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let written = 0;
  while (written < Math.min(total, stopAfter)) {
    if (req.destroyed) return written;
    const size = Math.min(chunk.length, total - written);
    if (!req.write(chunk.subarray(0, size))) {
      await new Promise((resolve) => {
        req.once('drain', resolve);
        req.once('close', resolve);
      });
    }
    written += size;
  }
  return written;
}

describe('an upload that does not complete leaves nothing behind', () => {
  it('client disconnects halfway: no row, no object, quota unchanged', async () => {
    const session = await client.signUp();
    const frame = multipartFrame('half.pdf', 'application/pdf');
    const total = 20 * MiB;
    const { req } = streamingUpload(
      server,
      session.accessToken,
      frame,
      frame.head.length + total + frame.tail.length,
    );
    req.write(frame.head);
    await writeFile(req, total, 9 * MiB);
    await sleep(200);
    req.destroy();
    const state = await eventuallyClean(session);
    expect(state).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
  });

  it('larger than MAX_UPLOAD_BYTES (chunked): 413 long before the client has sent it all; nothing stored', async () => {
    const session = await client.signUp();
    const result = await rawChunkedUpload(server, session.accessToken, 512 * MiB);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ code: 'payload_too_large' });
    expect(result.sent).toBeLessThan(256 * MiB);
    expect(await eventuallyClean(session)).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
  });

  it('a declared Content-Length above the limit is refused without reading the body', async () => {
    const session = await client.signUp();
    const frame = multipartFrame('declared.pdf', 'application/pdf');
    const { req, response } = streamingUpload(server, session.accessToken, frame, 1024 * MiB);
    req.write(frame.head);
    const result = await response;
    req.destroy();
    expect(result.status).toBe(413);
  });

  it('the store stops mid-upload: 503 service_unavailable, and nothing is left once it is back', async () => {
    const session = await client.signUp();
    const frame = multipartFrame('outage.pdf', 'application/pdf');
    const total = 24 * MiB;
    const { req, response } = streamingUpload(
      server,
      session.accessToken,
      frame,
      frame.head.length + total + frame.tail.length,
    );
    req.write(frame.head);
    await writeFile(req, total, 12 * MiB);
    await s3.stop();
    try {
      const rest = writeFile(req, total - 12 * MiB).catch(() => 0);
      const result = await response;
      expect(result.status).toBe(503);
      expect(JSON.parse(result.body)).toMatchObject({ code: 'service_unavailable' });
      await rest;
    } finally {
      req.destroy();
      s3 = await startEmbeddedS3({ dir, port: s3Port, buckets: ['faults'] });
    }
    // The object may or may not exist (a put cut by the outage can have landed): the row, handed to the
    // sweeper (`deleting`), keeps its key until the sweeper has deleted both.
    const state = await leftovers(session);
    expect(state).toMatchObject({ bytesUsed: 0, count: 0 });
    expect(state.rows.map((r) => r.status)).toEqual(['deleting']);
    const database = createDatabase({ ...server.config.database, url: server.config.database.url! });
    const storage = createStorage({ ...server.config.s3, endpoint: s3.endpoint });
    try {
      await sql`update documents set updated_at = now() - interval '1 hour' where status <> 'ready'`;
      await createSweeper({
        db: database.db,
        storage,
        logger: createLogger({ level: 'silent' }),
        pendingTtlS: 60,
      }).runOnce();
    } finally {
      storage.close();
      await database.close();
    }
    expect(await eventuallyClean(session)).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
  });
});

describe('quota', () => {
  it('20 concurrent uploads against a small quota never overshoot; bytes_used = stored sizes', async () => {
    const session = await client.signUp();
    const quota = 100_000;
    await sql`update users set quota_bytes = ${quota}, quota_custom = true where email = ${session.email}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        upload(server, session.accessToken, { bytes: randomFile(9_000 + i), name: `q${i}.pdf` }),
      ),
    );
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    for (const r of refused) expect([r.status, r.body?.code]).toEqual([413, 'quota_exceeded']);
    const state = await eventuallyClean({ ...session });
    const readySizes = state.rows.map((r) => Number(r.size_bytes));
    expect(state.rows.every((r) => r.status === 'ready')).toBe(true);
    expect(state.bytesUsed).toBeLessThanOrEqual(quota);
    expect(state.bytesUsed).toBe(readySizes.reduce((a, b) => a + b, 0));
    expect(state.bytesUsed).toBe(state.objects.reduce((a, o) => a + o.size, 0));
    expect(state.count).toBe(created.length);
    expect(created.length).toBeGreaterThanOrEqual(9);
    expect(created.length).toBeLessThan(20);
  });

  it('an upload larger than the remaining quota is stopped early with quota_exceeded', async () => {
    const session = await client.signUp();
    await sql`update users set quota_bytes = ${MiB}, quota_custom = true where email = ${session.email}`;
    const result = await upload(server, session.accessToken, { bytes: randomFile(2 * MiB) });
    expect([result.status, result.body?.code]).toEqual([413, 'quota_exceeded']);
    expect(await eventuallyClean(session)).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
  });
});

describe('marking an upload ready (one statement: quota, row, audit event)', () => {
  it('a pending row removed while its bytes flow is 503, and nothing is charged or recorded', async () => {
    const session = await client.signUp();
    const [user] = await sql`select id from users where email = ${session.email}`;
    const frame = multipartFrame('gone.pdf', 'application/pdf');
    const { req, response } = streamingUpload(server, session.accessToken, frame);
    req.write(frame.head);
    await writeFile(req, 100_000);
    // The pending row exists once the part's headers were read; the sweeper's delete is simulated.
    let removed = 0;
    for (let i = 0; i < 100 && removed === 0; i++) {
      removed = (await sql`delete from documents where user_id = ${user!.id} and status = 'pending'`).count;
      if (removed === 0) await sleep(20);
    }
    expect(removed).toBe(1);
    req.end(frame.tail);
    const answer = await response;
    expect([answer.status, JSON.parse(answer.body).code]).toEqual([503, 'service_unavailable']);
    expect(await eventuallyClean(session)).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
    const events =
      await sql`select 1 from audit_events where type = 'document.created' and actor_id = ${user!.id}`;
    expect(events).toHaveLength(0);
  });
});

describe('sweeper', () => {
  it('removes stale pending uploads and retries failed object deletions', async () => {
    const session = await client.signUp();
    const doc = (await upload(server, session.accessToken, { bytes: randomFile(5000) })).body!
      .document as Json;
    // A delete while the store is down is refused as a whole (503): the document, its object and its
    // quota charge stay.
    await s3.stop();
    try {
      const refused = await client.call('DELETE', `/v1/documents/${doc.id}`, { token: session.accessToken });
      expect([refused.status, refused.body?.code]).toEqual([503, 'service_unavailable']);
    } finally {
      s3 = await startEmbeddedS3({ dir, port: s3Port, buckets: ['faults'] });
    }
    let state = await leftovers(session);
    expect(state.bytesUsed).toBe(5000);
    expect(state.rows.map((r) => r.status)).toEqual(['ready']);
    expect(state.objects).toHaveLength(1);
    // Earlier versions committed a delete before removing the object and left `deleting` rows when that
    // failed; the sweeper still finishes those.
    await sql`update documents set status = 'deleting', updated_at = now() - interval '2 minutes' where id = ${fromPublicId('doc', doc.id as string)!}`;
    await sql`update users set bytes_used = 0, document_count = 0 where email = ${session.email}`;

    // A crashed upload: a pending row (and an object) older than the TTL.
    const [user] = await sql`select id from users where email = ${session.email}`;
    const key = `documents/${user!.id}/0193a4c2-7d1e-7c3a-9f1e-2b5d8c0e4a11`;
    await sql`insert into documents (id, user_id, name, content_type, storage_key, status, updated_at)
              values ('0193a4c2-7d1e-7c3a-9f1e-2b5d8c0e4a11', ${user!.id}, 'crashed', 'application/pdf', ${key}, 'pending', now() - interval '2 hours')`;

    const database = createDatabase({ ...server.config.database, url: server.config.database.url! });
    const storage = createStorage({ ...server.config.s3, endpoint: s3.endpoint });
    const sweeper = createSweeper({
      db: database.db,
      storage,
      logger: createLogger({ level: 'silent' }),
      pendingTtlS: 3600,
    });
    try {
      expect(await sweeper.runOnce()).toBe(2);
    } finally {
      storage.close();
      await database.close();
    }
    state = await leftovers(session);
    expect(state).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: [] });
  });
});
