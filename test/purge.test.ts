// The purge job's work on a real database and bucket (its schedule is the worker's, tested in worker.test).
import { PutObjectCommand } from '@aws-sdk/client-s3';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPurge } from '../src/jobs/purge.ts';
import { createExportRunner } from '../src/modules/exports/export-runner.ts';
import { newUuid, toPublicId } from '../src/platform/ids.ts';
import { createRuntimeModeStore } from '../src/platform/runtime-mode.ts';
import { createStorage, listKeys } from '../src/storage/storage.ts';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

let server: TestServer;
let sql: postgres.Sql;
let session: Session;

beforeAll(async () => {
  server = await startTestServer();
  sql = postgres(server.config.database.url!, { max: 1, onnotice: () => {} });
  session = await api(server).signUp();
  return () => sql.end();
});

describe('purge', () => {
  it('removes expired records, keeps live ones, and expires finished exports with their objects', async () => {
    const storage = createStorage({ ...server.config.s3, endpoint: server.config.s3.endpoint! });
    const { db, logger } = { db: server.services.db, logger: server.logs.logger };
    const runtimeMode = createRuntimeModeStore({ db, pollMs: 1000, logger });
    const runner = createExportRunner({
      db,
      storage,
      runtimeMode,
      config: server.config,
      logger,
      onBytes: () => {},
    });
    const purge = createPurge({ db, exportRunner: runner, logger });
    const [user] = await sql<{ id: string }[]>`select id from users where email = ${session.email}`;
    const userId = user!.id;

    await sql`insert into idempotency_keys (principal, key, fingerprint, created_at, locked_until) values
      (${userId}, 'old', 'f', now() - interval '25 hours', now() - interval '25 hours'),
      (${userId}, 'fresh', 'f', now(), now())`;
    await sql`insert into password_reset_tokens (id, user_id, token_hash, expires_at, used_at) values
      (${newUuid()}, ${userId}, 'spent', now() + interval '1 minute', now() - interval '2 days'),
      (${newUuid()}, ${userId}, 'expired', now() - interval '2 days', null),
      (${newUuid()}, ${userId}, 'live', now() + interval '20 minutes', null)`;
    await sql`insert into sessions (id, user_id, expires_at, revoked_at) values
      (${newUuid()}, ${userId}, now() + interval '1 day', now() - interval '8 days'),
      (${newUuid()}, ${userId}, now() - interval '8 days', null)`;

    const expired = newUuid();
    const live = newUuid();
    for (const [id, expiresAt] of [
      [expired, new Date(Date.now() - 60_000)],
      [live, new Date(Date.now() + 3_600_000)],
    ] as const) {
      const key = `exports/${userId}/${id}/attempt.zip`;
      await storage.client.send(
        new PutObjectCommand({
          Bucket: storage.bucket,
          Key: key,
          Body: 'zip',
        }),
      );
      await sql`insert into exports (id, user_id, status, storage_key, size_bytes, sha256, finished_at, expires_at)
        values (${id}, ${userId}, 'succeeded', ${key}, 3, 'x', now(), ${expiresAt})`;
    }

    const counts = await purge.runOnce();
    expect(counts).toMatchObject({ idempotency_keys: 1, password_reset_tokens: 2, sessions: 2, exports: 1 });
    expect(
      (await sql`select key from idempotency_keys where principal = ${userId}`).map((r) => r.key),
    ).toEqual(['fresh']);
    expect(
      (await sql`select token_hash from password_reset_tokens where user_id = ${userId}`).map(
        (r) => r.token_hash,
      ),
    ).toEqual(['live']);
    // The signed-up session is live and stays.
    expect(await sql`select 1 from sessions where user_id = ${userId}`).toHaveLength(1);

    expect(await listKeys(storage, `exports/${userId}/${expired}/`)).toEqual([]);
    expect(await listKeys(storage, `exports/${userId}/${live}/`)).toHaveLength(1);
    const client = api(server);
    const view = await client.call('GET', `/v1/exports/${toPublicId('exp', expired)}`, {
      token: session.accessToken,
    });
    expect(view.body?.status).toBe('expired');
    const gone = await client.call('GET', `/v1/exports/${toPublicId('exp', expired)}/content`, {
      token: session.accessToken,
    });
    expect([gone.status, gone.body?.code]).toEqual([410, 'gone']);
    const fine = await client.call('GET', `/v1/exports/${toPublicId('exp', live)}/content`, {
      token: session.accessToken,
    });
    expect([fine.status, fine.text]).toEqual([200, 'zip']);
    storage.close();
  });
});
