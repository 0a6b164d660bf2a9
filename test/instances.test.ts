// Three API processes on one database, as three replicas behind a load balancer: limits stay exact
// across them, a runtime-mode change reaches all within 5 s, and a revoked session or API key stops
// working on every one of them at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { api } from './support/api.ts';
import { createTestBucket, createTestDatabase, type TestServer } from './support/harness.ts';
import { MAIN, type SpawnedServer, spawnServer } from './support/spawn.ts';

const ADMIN = { email: 'replicas-admin@example.com', password: 'replicas admin passphrase' };
const PASSWORD = 'replicas user passphrase';
let replicas: SpawnedServer[];

/** The shared JSON client of the tests (it also registers the secrets it handles for the log audit). */
const call = (server: SpawnedServer, method: string, path: string, body?: unknown, token?: string) =>
  api(server as unknown as TestServer)
    .call(method, path, { body, token })
    .then((answer) => ({ ...answer, body: answer.body ?? {} }));

async function signUp(tag: string) {
  const email = `${tag}-${Date.now()}@example.com`;
  expect((await call(replicas[0]!, 'POST', '/v1/auth/register', { email, password: PASSWORD })).status).toBe(
    201,
  );
  const login = await call(replicas[1]!, 'POST', '/v1/auth/login', { email, password: PASSWORD });
  expect(login.status).toBe(200);
  return login.body.access_token as string;
}

/** Polls every replica until `ok` holds on all of them; resolves to the milliseconds it took. */
async function untilAll(check: (server: SpawnedServer) => Promise<boolean>, limitMs = 8000) {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    if ((await Promise.all(replicas.map(check))).every(Boolean)) return performance.now() - start;
    await sleep(100);
  }
  return Number.POSITIVE_INFINITY;
}

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const shared = {
    DATABASE_URL: await createTestDatabase(),
    S3_BUCKET: await createTestBucket(),
    JWT_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'replicas', alg: 'EdDSA' }),
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_LOGIN: '30/1m',
  };
  replicas = [];
  // One at a time: they migrate nothing, but each ensures the bootstrap admin.
  for (let i = 0; i < 3; i++) replicas.push(await spawnServer(shared, MAIN, { perFile: true }));
}, 120_000);

describe('three API instances on one database', () => {
  it('keep an exact shared limit: 60 parallel logins against 30/min give exactly 30 answers', async () => {
    // One client address (as the trusted edge reports it), spread over the three instances.
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        fetch(`${replicas[i % 3]!.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
          body: JSON.stringify({ email: `nobody-${i}@example.com`, password: 'not the password' }),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(refused.headers.get('ratelimit-policy')).toBe('"login";q=30;w=60');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it('see a runtime mode change within 5 s, and its return to normal', async () => {
    const admin = await call(replicas[0]!, 'POST', '/v1/auth/login', ADMIN);
    const token = admin.body.access_token as string;
    const user = await signUp('mode');
    const patch = (server: SpawnedServer) => call(server, 'PATCH', '/v1/me', { name: 'mode check' }, user);
    expect(
      (await call(replicas[2]!, 'PUT', '/v1/admin/runtime-mode', { mode: 'read_only' }, token)).status,
    ).toBe(200);
    const readOnlyMs = await untilAll(async (s) => (await patch(s)).body?.code === 'read_only_mode');
    expect(
      (await call(replicas[1]!, 'PUT', '/v1/admin/runtime-mode', { mode: 'normal' }, token)).status,
    ).toBe(200);
    const normalMs = await untilAll(async (s) => (await patch(s)).status === 200);
    expect(readOnlyMs).toBeLessThan(5000);
    expect(normalMs).toBeLessThan(5000);
  });

  it('refuse a logged-out session and a deleted API key on every instance at once', async () => {
    const email = `revoke-${Date.now()}@example.com`;
    await call(replicas[0]!, 'POST', '/v1/auth/register', { email, password: PASSWORD });
    const login = await fetch(`${replicas[0]!.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('__Host-stowage_refresh='))!;
    const key = await call(replicas[1]!, 'POST', '/v1/api-keys', { name: 'replicas' }, token);
    expect(key.status).toBe(201);
    // Every instance has both cached or warmed before they are revoked.
    for (const server of replicas) {
      expect((await call(server, 'GET', '/v1/me', undefined, token)).status).toBe(200);
      expect((await call(server, 'GET', '/v1/me', undefined, key.body.key)).status).toBe(200);
    }
    expect((await call(replicas[2]!, 'DELETE', `/v1/api-keys/${key.body.id}`, undefined, token)).status).toBe(
      204,
    );
    const logout = await fetch(`${replicas[2]!.url}/v1/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(logout.status).toBe(204);
    // "At once": the notification of the commit has reached every instance by the time we ask.
    const keyGoneMs = await untilAll(
      async (s) => (await call(s, 'GET', '/v1/me', undefined, key.body.key)).status === 401,
    );
    const sessionGoneMs = await untilAll(
      async (s) => (await call(s, 'GET', '/v1/me', undefined, token)).status === 401,
    );
    expect(keyGoneMs).toBeLessThan(1000);
    expect(sessionGoneMs).toBeLessThan(1000);
  });
});
