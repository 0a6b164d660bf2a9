// A store that accepts connections and never answers: every S3 call is bounded by S3_TIMEOUT_MS, the
// client gets 503 service_unavailable with Retry-After within it, and nothing is left half done.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { createSweeper } from '../src/modules/documents/sweeper.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createStorage } from '../src/storage/storage.ts';
import { api, type Json, type Session } from './support/api.ts';
import { type HangProxy, startHangProxy } from './support/hang-proxy.ts';
import { stack, startTestServer, type TestServer } from './support/harness.ts';
import { bucketObjects, randomFile, upload } from './support/uploads.ts';

const TIMEOUT_MS = 1500;
const BOUND_MS = TIMEOUT_MS + 1000;

let proxy: HangProxy;
let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;

beforeAll(async () => {
  proxy = await startHangProxy(stack().s3Endpoint);
  server = await startTestServer({ env: { S3_ENDPOINT: proxy.url, S3_TIMEOUT_MS: String(TIMEOUT_MS) } });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
});

afterAll(async () => {
  await sql.end();
  await server.shutdown('done');
  await proxy.close();
});

async function state(session: Session) {
  const [user] = await sql`select id, bytes_used, document_count from users where email = ${session.email}`;
  const rows = await sql`select id, status from documents where user_id = ${user!.id}`;
  const objects = (await bucketObjects(server)).filter((o) => o.key.startsWith(`documents/${user!.id}/`));
  return {
    bytesUsed: Number(user!.bytes_used),
    count: user!.document_count as number,
    rows: rows.map((r) => r.status as string),
    objects: objects.length,
  };
}

async function timed<T>(work: () => Promise<T>) {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

const expectUnavailable = (status: number, headers: Headers, body: Json | undefined) => {
  expect(status).toBe(503);
  expect(body?.code).toBe('service_unavailable');
  expect(body?.detail).toMatch(/document store/);
  expect(Number(headers.get('retry-after'))).toBeGreaterThan(0);
};

describe('a hung object store', () => {
  it('upload, download and delete answer 503 within S3_TIMEOUT_MS + 1 s and leave nothing behind', async () => {
    const session = await client.signUp();
    const kept = (await upload(server, session.accessToken, { bytes: randomFile(4000) })).body!
      .document as Json;
    const before = await state(session);
    expect(before).toEqual({ bytesUsed: 4000, count: 1, rows: ['ready'], objects: 1 });

    proxy.hang(true);
    try {
      const up = await timed(() => upload(server, session.accessToken, { bytes: randomFile(6000) }));
      expect(up.ms).toBeLessThan(BOUND_MS);
      expectUnavailable(up.result.status, up.result.headers, up.result.body);

      const down = await timed(() =>
        client.call('GET', `/v1/documents/${kept.id}/content`, { token: session.accessToken }),
      );
      expect(down.ms).toBeLessThan(BOUND_MS);
      expectUnavailable(down.result.status, down.result.headers, down.result.body);

      const del = await timed(() =>
        client.call('DELETE', `/v1/documents/${kept.id}`, { token: session.accessToken }),
      );
      expect(del.ms).toBeLessThan(BOUND_MS);
      expectUnavailable(del.result.status, del.result.headers, del.result.body);
    } finally {
      proxy.hang(false);
    }

    // The failed upload charged nothing and is handed to the sweeper (`deleting`: its object may or may
    // not have landed, and the hung store could not be asked); the failed delete kept the document, its
    // bytes and its quota charge as they were. Once the sweeper has run, nothing of the upload is left.
    expect(await state(session)).toEqual({ ...before, rows: ['ready', 'deleting'] });
    await sql`update documents set updated_at = now() - interval '1 hour' where status = 'deleting'`;
    const database = createDatabase({ ...server.config.database, url: server.config.database.url! });
    const storage = createStorage({ ...server.config.s3, endpoint: stack().s3Endpoint });
    try {
      const sweeper = createSweeper({
        db: database.db,
        storage,
        logger: createLogger({ level: 'silent' }),
        pendingTtlS: 3600,
      });
      expect(await sweeper.runOnce()).toBe(1);
    } finally {
      storage.close();
      await database.close();
    }
    expect(await state(session)).toEqual(before);
    const fetched = await client.call('GET', `/v1/documents/${kept.id}/content`, {
      token: session.accessToken,
    });
    expect(fetched.status).toBe(200);
    expect(
      (await client.call('DELETE', `/v1/documents/${kept.id}`, { token: session.accessToken })).status,
    ).toBe(204);
    expect(await state(session)).toEqual({ bytesUsed: 0, count: 0, rows: [], objects: 0 });
  });
});
