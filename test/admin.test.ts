import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { createAuditService } from '../src/modules/audit/audit.service.ts';
import type { AppEnv } from '../src/platform/app-env.ts';
import { defineRoute } from '../src/platform/openapi.ts';
import { heavyWork } from '../src/platform/runtime-mode.ts';
import { api, type Json, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const ADMIN = { email: 'root@stowage.test', password: 'bootstrap admin passphrase' };

// A heavy-work route, as exports will be: refused in degraded mode.
const heavyRoute = defineRoute({
  method: 'post',
  path: '/probe/heavy',
  middleware: [heavyWork()] as const,
  responses: {
    200: { description: 'done', content: { 'application/json': { schema: z.object({ ok: z.boolean() }) } } },
  },
});
const heavyModule = {
  path: '/',
  app: new OpenAPIHono<AppEnv>().openapi(heavyRoute, (c) => c.json({ ok: true }, 200)),
};

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let admin: Session;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      RUNTIME_MODE_POLL_MS: '200',
    },
    modules: [heavyModule],
  });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
  admin = await client.login(ADMIN.email, ADMIN.password);
});

afterAll(() => sql.end());

const as = (session: Session) => ({
  get: (path: string) => client.call('GET', path, { token: session.accessToken }),
  patch: (path: string, body: unknown) => client.call('PATCH', path, { token: session.accessToken, body }),
  put: (path: string, body: unknown) => client.call('PUT', path, { token: session.accessToken, body }),
});

describe('bootstrap admin', () => {
  it('is an admin, and a second start on the same database keeps exactly one', async () => {
    expect(admin.user.role).toBe('admin');
    const again = await startTestServer({
      env: {
        DATABASE_URL: server.config.database.url,
        S3_BUCKET: server.config.s3.bucket,
        BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
        BOOTSTRAP_ADMIN_PASSWORD: 'a different passphrase entirely',
      },
    });
    await again.shutdown('done');
    const rows = await sql`select role from users where email = ${ADMIN.email}`;
    expect(rows.map((r) => r.role)).toEqual(['admin']);
    // The password of the existing account is kept.
    await client.login(ADMIN.email, ADMIN.password);
  });
});

describe('access', () => {
  it('401 without credentials, 403 for a non-admin, on every admin route', async () => {
    const user = await client.signUp();
    for (const [method, path] of [
      ['GET', '/v1/admin/users'],
      ['PATCH', `/v1/admin/users/${user.user.id}`],
      ['GET', '/v1/admin/audit-events'],
      ['GET', '/v1/admin/runtime-mode'],
      ['PUT', '/v1/admin/runtime-mode'],
    ] as const) {
      const body = method === 'GET' ? undefined : { mode: 'normal' };
      expect((await client.call(method, path, { body })).status, `${method} ${path}`).toBe(401);
      const forbidden = await client.call(method, path, { token: user.accessToken, body });
      expect(forbidden.status, `${method} ${path}`).toBe(403);
      expect(forbidden.body?.code).toBe('forbidden');
    }
  });
});

describe('users', () => {
  it('pages through every account exactly once with an opaque cursor; q filters', async () => {
    const tag = `pager${Date.now()}`;
    for (let i = 0; i < 5; i++) await client.register(`${tag}-${i}@example.com`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body?: Json } = await as(admin).get(
        `/v1/admin/users?limit=2&q=${tag}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body!.data.map((u: Json) => u.email));
      cursor = page.body!.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => `${tag}-${i}@example.com`));
    expect((await as(admin).get('/v1/admin/users?cursor=garbage')).status).toBe(422);
  });

  it('tier moves the quota; an explicit quota sticks; below usage is refused', async () => {
    const user = await client.signUp();
    const path = `/v1/admin/users/${user.user.id}`;
    const premium = await as(admin).patch(path, { tier: 'premium' });
    expect(premium.body).toMatchObject({ tier: 'premium', quota_bytes: 100 * 1024 ** 3 });
    const custom = await as(admin).patch(path, { quota_bytes: 5000 });
    expect(custom.body).toMatchObject({ tier: 'premium', quota_bytes: 5000 });
    expect((await as(admin).patch(path, { tier: 'enterprise' })).body).toMatchObject({ quota_bytes: 5000 });
    await sql`update users set bytes_used = 4000 where email = ${user.email}`;
    const below = await as(admin).patch(path, { quota_bytes: 3000 });
    expect(below.status).toBe(422);
    expect(below.body?.errors?.[0]?.path).toBe('quota_bytes');
    expect((await as(admin).patch(path, {})).status).toBe(422);
    expect(
      (await as(admin).patch('/v1/admin/users/usr_01jdx5m7kqf3v9r2w8y4t6n0hc', { tier: 'free' })).status,
    ).toBe(404);
  });

  it('disabling stops tokens and API keys at once and refuses login; enabling restores', async () => {
    const user = await client.signUp();
    const key = (await client.call('POST', '/v1/api-keys', { token: user.accessToken, body: { name: 'k' } }))
      .body!.key;
    const path = `/v1/admin/users/${user.user.id}`;
    expect((await as(admin).patch(path, { disabled: true })).body?.disabled).toBe(true);
    for (const token of [user.accessToken, key]) {
      const refused = await client.call('GET', '/v1/me', { token });
      expect(refused.status).toBe(403);
      expect(refused.body?.code).toBe('account_disabled');
    }
    const login = await client.call('POST', '/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect([login.status, login.body?.code]).toEqual([403, 'account_disabled']);
    expect(
      (await client.call('POST', '/v1/auth/refresh', { headers: { cookie: user.refreshCookie } })).status,
    ).toBe(401);

    await as(admin).patch(path, { disabled: false });
    expect((await client.call('GET', '/v1/me', { token: key })).status).toBe(200);
    await client.login(user.email, user.password);
  });

  it('an admin cannot disable or demote themselves', async () => {
    const path = `/v1/admin/users/${admin.user.id}`;
    expect((await as(admin).patch(path, { disabled: true })).status).toBe(403);
    expect((await as(admin).patch(path, { role: 'user' })).status).toBe(403);
  });
});

describe('audit log', () => {
  it('records actor, target, client IP and request id, filterable by type and actor', async () => {
    const user = await client.signUp();
    await client.call('POST', '/v1/api-keys', {
      token: user.accessToken,
      body: { name: 'audited' },
      headers: { 'x-request-id': 'audit-req-1' },
    });
    const page = await as(admin).get(`/v1/admin/audit-events?type=api_key.created&actor_id=${user.user.id}`);
    expect(page.status).toBe(200);
    expect(page.body?.data).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        type: 'api_key.created',
        actor_id: user.user.id,
        target: { type: 'api_key', id: expect.stringMatching(/^key_/) },
        client_ip: '127.0.0.1',
        request_id: 'audit-req-1',
        data: {},
        created_at: expect.any(String),
      },
    ]);
    const types = new Set(
      (await as(admin).get(`/v1/admin/audit-events?actor_id=${user.user.id}&limit=100`)).body?.data.map(
        (e: Json) => e.type,
      ),
    );
    expect([...types].sort()).toEqual(['api_key.created', 'auth.login_succeeded', 'user.registered']);
  });

  it('a failed login is recorded; so is an admin change', async () => {
    const user = await client.signUp();
    await client.call('POST', '/v1/auth/login', {
      body: { email: user.email, password: 'definitely wrong' },
    });
    await as(admin).patch(`/v1/admin/users/${user.user.id}`, { tier: 'premium' });
    const failed = await as(admin).get(
      `/v1/admin/audit-events?type=auth.login_failed&actor_id=${user.user.id}`,
    );
    expect(failed.body?.data[0]?.data).toEqual({ reason: 'invalid_credentials', known_email: true });
    const changed = await as(admin).get(
      `/v1/admin/audit-events?type=admin.user_updated&actor_id=${admin.user.id}`,
    );
    expect(changed.body?.data[0]).toMatchObject({
      target: { type: 'user', id: user.user.id },
      data: { changes: { tier: 'premium' } },
    });
  });

  it('is append-only, and the hash chain detects an edited or deleted row', async () => {
    const database = createDatabase({ ...server.config.database, url: server.config.database.url! });
    const audit = createAuditService(database.db);
    try {
      const intact = await audit.verifyChain();
      expect(intact.ok).toBe(true);
      expect(intact.ok && intact.checked).toBeGreaterThan(10);

      await expect(sql`update audit_events set type = type`).rejects.toThrow(/append-only/);
      await expect(sql`delete from audit_events`).rejects.toThrow(/append-only/);

      // Someone with the owner's rights bypasses the trigger and edits one row.
      const [victim] = await sql`select seq from audit_events order by seq limit 1 offset 3`;
      await sql.begin(async (tx) => {
        await tx`alter table audit_events disable trigger audit_events_append_only`;
        await tx`update audit_events set data = '{"reason":"nothing to see"}' where seq = ${victim!.seq}`;
        await tx`alter table audit_events enable trigger audit_events_append_only`;
      });
      const broken = { ok: false, seq: Number(victim!.seq), reason: 'content changed' };
      expect(await audit.verifyChain()).toEqual(broken);
      // The operator's command says the same, with exit code 2.
      const command = spawnSync(process.execPath, ['src/modules/audit/verify-command.ts'], {
        env: { PATH: process.env.PATH, DATABASE_URL: server.config.database.url },
        encoding: 'utf8',
      });
      expect(command.status).toBe(2);
      expect(JSON.parse(command.stdout)).toEqual(broken);
    } finally {
      await database.close();
    }
  });
});

describe('runtime mode', () => {
  it('read_only refuses writes with 503 + Retry-After, keeps reads, applies on another instance within 5 s', async () => {
    const other = await startTestServer({
      env: {
        DATABASE_URL: server.config.database.url,
        S3_BUCKET: server.config.s3.bucket,
        RUNTIME_MODE_POLL_MS: '500',
      },
    });
    const user = await client.signUp();
    const set = await as(admin).put('/v1/admin/runtime-mode', { mode: 'read_only' });
    expect(set.body).toEqual({ mode: 'read_only' });
    try {
      const refused = await client.call('POST', '/v1/api-keys', {
        token: user.accessToken,
        body: { name: 'k' },
      });
      expect(refused.status).toBe(503);
      expect(refused.body?.code).toBe('read_only_mode');
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(
        (await client.call('PATCH', '/v1/me', { token: user.accessToken, body: { name: 'x' } })).status,
      ).toBe(503);
      expect((await client.call('GET', '/v1/me', { token: user.accessToken })).status).toBe(200);
      // Signing in keeps working, so an admin can switch the mode back.
      expect(
        (
          await client.call('POST', '/v1/auth/login', {
            body: { email: user.email, password: user.password },
          })
        ).status,
      ).toBe(200);

      const started = Date.now();
      let code: string | undefined;
      while (Date.now() - started < 5000 && code !== 'read_only_mode') {
        code = (
          await fetch(`${other.url}/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          }).then((r) => r.json() as Promise<Json>)
        ).code;
        if (code !== 'read_only_mode') await sleep(100);
      }
      expect(code).toBe('read_only_mode');
    } finally {
      await as(admin).put('/v1/admin/runtime-mode', { mode: 'normal' });
      await other.shutdown('done');
    }
    expect(
      (await client.call('PATCH', '/v1/me', { token: user.accessToken, body: { name: 'x' } })).status,
    ).toBe(200);
  });

  it('degraded refuses heavy work only; the change is audited', async () => {
    await as(admin).put('/v1/admin/runtime-mode', { mode: 'degraded' });
    try {
      expect((await as(admin).get('/v1/admin/runtime-mode')).body).toEqual({ mode: 'degraded' });
      const heavy = await client.call('POST', '/probe/heavy');
      expect([heavy.status, heavy.body?.code, heavy.headers.get('retry-after')]).toEqual([
        503,
        'degraded_mode',
        '30',
      ]);
      expect(
        (await client.call('PATCH', '/v1/me', { token: admin.accessToken, body: { name: 'Root' } })).status,
      ).toBe(200);
    } finally {
      await as(admin).put('/v1/admin/runtime-mode', { mode: 'normal' });
    }
    expect((await client.call('POST', '/probe/heavy')).status).toBe(200);
    const events = await as(admin).get('/v1/admin/audit-events?type=admin.runtime_mode_changed&limit=2');
    expect(events.body?.data.map((e: Json) => e.data)).toEqual([
      { from: 'degraded', to: 'normal' },
      { from: 'normal', to: 'degraded' },
    ]);
  });
});
