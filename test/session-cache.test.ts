// The session cache: a session request reads nothing to authenticate once its holder is cached, and every
// change that must end or alter that answer evicts it on every instance as it commits (migration 0005's
// triggers → `principal_changes` → each instance's listener), whoever made the change.
import { exportJWK, generateKeyPair } from 'jose';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createSessionCache } from '../src/modules/auth/session-cache.ts';
import { listenTo } from '../src/platform/db-listener.ts';
import { api, type Session } from './support/api.ts';
import { captureLogs, createTestDatabase, startTestServer } from './support/harness.ts';
import { MAIN, spawnServer } from './support/spawn.ts';

// Instances of one deployment share the signing key, the database and the bucket.
const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
const JWT_SIGNING_KEY = JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'cache-test', alg: 'EdDSA' });
const server = await startTestServer({ env: { SERVER_TIMING: 'true', JWT_SIGNING_KEY } });
const sibling = (env: Record<string, string> = {}) =>
  startTestServer({
    env: {
      SERVER_TIMING: 'true',
      JWT_SIGNING_KEY,
      DATABASE_URL: server.config.database.url!,
      S3_BUCKET: server.config.s3.bucket,
      ...env,
    },
  });
const second = await sibling();
const sql = postgres(server.config.database.url!, { max: 1, onnotice: () => {} });
afterAll(() => sql.end());

const queriesOf = (headers: Headers) =>
  Number(/desc="(\d+) queries"/.exec(headers.get('server-timing') ?? '')?.[1]);

const signedIn = (): Promise<Session> => api(server).signUp('cache');

/** Repeats `call` until it stops answering 200 (2 s at most); its last answer and how long it took. */
async function refusedWithin(call: () => ReturnType<ReturnType<typeof api>['call']>) {
  const started = performance.now();
  for (;;) {
    const { status, body } = await call();
    if (status !== 200 || performance.now() - started > 2000)
      return { status, code: body?.code, ms: performance.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const me = (instance: typeof server, token: string) => () => api(instance).call('GET', '/v1/me', { token });

describe('session cache', () => {
  it('answers a repeated session request without the account and session lookups', async () => {
    const session = await signedIn();
    const first = await api(second).call('GET', '/v1/me', { token: session.accessToken });
    const again = await api(second).call('GET', '/v1/me', { token: session.accessToken });
    expect([first.status, again.status]).toEqual([200, 200]);
    // /v1/me reads the account itself (1 query); authentication added the account and the session.
    expect([queriesOf(first.headers), queriesOf(again.headers)]).toEqual([3, 1]);
    expect(again.body).toEqual(first.body);
  });

  it('logout on one instance ends the session on another that had it cached', async () => {
    const session = await signedIn();
    for (const instance of [server, second])
      expect((await api(instance).call('GET', '/v1/me', { token: session.accessToken })).status).toBe(200);
    const logout = await api(server).call('POST', '/v1/auth/logout', {
      headers: { cookie: session.refreshCookie },
    });
    expect(logout.status).toBe(204);
    // The instance that logged out forgot at once; the other hears it from the commit's notification.
    expect((await api(server).call('GET', '/v1/me', { token: session.accessToken })).status).toBe(401);
    const elsewhere = await refusedWithin(me(second, session.accessToken));
    expect(elsewhere).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(elsewhere.ms).toBeLessThan(500);
  });

  it('an operator disabling the account in SQL reaches every instance’s cache', async () => {
    const session = await signedIn();
    for (const instance of [server, second])
      expect((await api(instance).call('GET', '/v1/me', { token: session.accessToken })).status).toBe(200);
    await sql`update users set disabled_at = now() where email = ${session.email}`;
    for (const instance of [server, second]) {
      const outcome = await refusedWithin(me(instance, session.accessToken));
      expect(outcome).toMatchObject({ status: 403, code: 'account_disabled' });
      expect(outcome.ms).toBeLessThan(500);
    }
  });

  it('a demoted admin loses the admin routes on an instance that had them cached', async () => {
    const session = await signedIn();
    await sql`update users set role = 'admin' where email = ${session.email}`;
    const admins = () => api(second).call('GET', '/v1/admin/users', { token: session.accessToken });
    expect((await admins()).status).toBe(200);
    await sql`update users set role = 'user' where email = ${session.email}`;
    const outcome = await refusedWithin(admins);
    expect(outcome).toMatchObject({ status: 403, code: 'forbidden' });
    expect(outcome.ms).toBeLessThan(500);
  });

  it('with SESSION_CACHE_TTL_S=0 every session request looks both up', async () => {
    const uncached = await sibling({ SESSION_CACHE_TTL_S: '0' });
    expect(uncached.services.principalChanges).toBeUndefined();
    const session = await signedIn();
    const counts = [];
    for (let i = 0; i < 3; i++)
      counts.push(
        queriesOf((await api(uncached).call('GET', '/v1/me', { token: session.accessToken })).headers),
      );
    expect(counts).toEqual([3, 3, 3]);
  });
});

describe('session cache in the process model', () => {
  it('every worker of a cluster stops honouring a session that another instance logged out', async () => {
    const cluster = await spawnServer(
      {
        WEB_CONCURRENCY: '2',
        SERVER_TIMING: 'true',
        JWT_SIGNING_KEY,
        DATABASE_URL: server.config.database.url!,
        S3_BUCKET: server.config.s3.bucket,
      },
      MAIN,
    );
    const session = await signedIn();
    // A new connection per request: the primary hands connections to the workers in turn.
    const queries: number[] = [];
    const statuses = async (count: number) => {
      const seen: number[] = [];
      for (let i = 0; i < count; i++) {
        const response = await fetch(`${cluster.url}/v1/me`, {
          headers: { authorization: `Bearer ${session.accessToken}`, connection: 'close' },
        });
        await response.arrayBuffer();
        seen.push(response.status);
        queries.push(queriesOf(response.headers));
      }
      return seen;
    };
    expect(await statuses(6)).toEqual([200, 200, 200, 200, 200, 200]);
    // Two of them looked the session up (3 queries), one per worker; the rest came from its cache.
    expect([...queries].sort()).toEqual([1, 1, 1, 1, 3, 3]);
    const logout = await api(server).call('POST', '/v1/auth/logout', {
      headers: { cookie: session.refreshCookie },
    });
    expect(logout.status).toBe(204);
    const started = performance.now();
    let after = await statuses(6);
    while (after.includes(200) && performance.now() - started < 2000) after = await statuses(6);
    expect(after).toEqual([401, 401, 401, 401, 401, 401]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(cluster.logs.filter((line) => line.msg === 'worker listening')).toHaveLength(2);
  });
});

describe('session cache rules', () => {
  const holder = { userId: 'u1', role: 'user' as const, tier: 'free' as const };
  const later = new Date(Date.now() + 3_600_000);

  it('answers nothing until the change channel is listened to, and nothing after it is lost', () => {
    const cache = createSessionCache({ ttlMs: 30_000 });
    cache.set('s1', holder, cache.version(), later);
    expect(cache.get('s1')).toBeUndefined();
    cache.trust();
    cache.set('s1', holder, cache.version(), later);
    expect(cache.get('s1')).toEqual(holder);
    cache.distrust();
    expect(cache.get('s1')).toBeUndefined();
    cache.trust();
    // Listening again starts empty: what changed meanwhile was never heard.
    expect(cache.get('s1')).toBeUndefined();
  });

  it('drops a lookup that started before an eviction (it may have read what was evicted)', () => {
    const cache = createSessionCache({ ttlMs: 30_000 });
    cache.trust();
    const version = cache.version();
    cache.applyChange('user:u2'); // any eviction, even of someone else
    cache.set('s1', holder, version, later);
    expect(cache.get('s1')).toBeUndefined();
  });

  it('evicts by session and by user; an unknown payload empties it', () => {
    const cache = createSessionCache({ ttlMs: 30_000 });
    cache.trust();
    for (const [id, userId] of [
      ['s1', 'u1'],
      ['s2', 'u1'],
      ['s3', 'u2'],
      ['s4', 'u3'],
    ] as const)
      cache.set(id, { ...holder, userId }, cache.version(), later);
    cache.applyChange('session:s3');
    expect(['s1', 's2', 's3', 's4'].map((id) => cache.get(id)?.userId)).toEqual([
      'u1',
      'u1',
      undefined,
      'u3',
    ]);
    cache.applyChange('user:u1');
    expect(['s1', 's2', 's4'].map((id) => cache.get(id)?.userId)).toEqual([undefined, undefined, 'u3']);
    cache.applyChange('garbage');
    expect(cache.size).toBe(0);
  });

  it('stores nothing of a session being revoked until the commit’s notification arrives', () => {
    const cache = createSessionCache({ ttlMs: 30_000, holdMs: 50 });
    cache.trust();
    cache.forgetSession('s1'); // inside the revoking transaction
    // A request between that and the commit still reads the session as live; it must not be kept.
    cache.set('s1', holder, cache.version(), later);
    expect(cache.get('s1')).toBeUndefined();
    cache.applyChange('session:s1'); // committed
    cache.set('s1', holder, cache.version(), later);
    expect(cache.get('s1')).toEqual(holder);
  });

  it('a hold ends by itself when no notification comes (the transaction rolled back)', async () => {
    const cache = createSessionCache({ ttlMs: 30_000, holdMs: 20 });
    cache.trust();
    cache.forgetSession('s1');
    await new Promise((resolve) => setTimeout(resolve, 30));
    cache.set('s1', holder, cache.version(), later);
    expect(cache.get('s1')).toEqual(holder);
  });

  it('keeps no entry past its session’s own expiry', () => {
    const cache = createSessionCache({ ttlMs: 30_000 });
    cache.trust();
    cache.set('s1', holder, cache.version(), new Date(Date.now() - 1));
    expect(cache.get('s1')).toBeUndefined();
  });
});

describe('database listener', () => {
  it('reports losing its connection, retries while it cannot connect, and listens again', async () => {
    const url = await createTestDatabase();
    const database = new URL(url).pathname.slice(1);
    // NOTIFY reaches listeners of the same database; ALTER DATABASE needs another one.
    const local = postgres(url, { max: 1, onnotice: () => {} });
    const admin = postgres(url.replace(`/${database}`, '/postgres'), { max: 1, onnotice: () => {} });
    const logs = captureLogs();
    const events: string[] = [];
    const listener = listenTo(
      url,
      'test_channel',
      {
        onNotify: (payload) => events.push(`notify ${payload}`),
        onListening: () => events.push('listening'),
        onLost: () => events.push('lost'),
      },
      logs.logger,
    );
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(check()).toBe(true);
    };
    try {
      await listener.start();
      expect(listener.listening).toBe(true);
      await local`select pg_notify('test_channel', 'one')`;
      await until(() => events.includes('notify one'));

      await admin.unsafe(`alter database ${database} allow_connections false`);
      await admin.unsafe(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'stowage-listener' and datname = '${database}'`,
      );
      await until(() => events.includes('lost'));
      expect(listener.listening).toBe(false);
      await until(() =>
        logs.lines.some((line) => line.msg === 'database listener: cannot listen yet, retrying'),
      );

      await admin.unsafe(`alter database ${database} allow_connections true`);
      await until(() => listener.listening);
      await local`select pg_notify('test_channel', 'two')`;
      await until(() => events.includes('notify two'));
      expect(events).toEqual(['listening', 'notify one', 'lost', 'listening', 'notify two']);
    } finally {
      await listener.stop();
      await admin.unsafe(`alter database ${database} allow_connections true`);
      await Promise.all([admin.end(), local.end()]);
    }
  });
});
