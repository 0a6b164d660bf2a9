import { createHash } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey } from '../src/platform/rate-limit/rate-limit.middleware.ts';
import { api, type Json, PASSWORD, uniqueEmail } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { spawnServer } from './support/spawn.ts';

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let ipCounter = 0;
/** A fresh client address per test: the server trusts loopback, so X-Forwarded-For names the client. */
const newIp = () => `198.51.100.${++ipCounter}`;
const from = (ip: string) => ({ 'x-forwarded-for': ip });

beforeAll(async () => {
  server = await startTestServer({
    env: {
      RATE_LIMIT_LOGIN: '3/1m',
      RATE_LIMIT_REGISTER: '5/1h',
      RATE_LIMIT_LOGIN_FAILURES: '2/15m',
      LOGIN_LOCKOUT_S: '900',
      RATE_LIMIT_LOGIN_FAILURES_EMAIL: '5/1h',
      LOGIN_EMAIL_LOCKOUT_S: '600',
      RATE_LIMIT_ACCOUNT: '4/1m',
      RATE_LIMIT_API_KEY_FREE: '100/1m burst 3',
      RATE_LIMIT_PASSWORD_RESET: '2/1h',
      RATE_LIMIT_AUTH_FAILURES: '3/1m',
    },
  });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2, onnotice: () => {} });
});

afterAll(() => sql.end());

const registerFrom = async (ip: string, email: string) =>
  expect(
    (
      await client.call('POST', '/v1/auth/register', {
        body: { email, password: PASSWORD },
        headers: from(ip),
      })
    ).status,
  ).toBe(201);

const login = (ip: string, email: string, password = PASSWORD) =>
  client.call('POST', '/v1/auth/login', { body: { email, password }, headers: from(ip) });

function expectWindow(headers: Headers, policy: string, limit: number, windowS: number, remaining: number) {
  expect(headers.get('ratelimit-policy')).toBe(`"${policy}";q=${limit};w=${windowS}`);
  const match = new RegExp(`^"${policy}";r=(\\d+);t=(\\d+)$`).exec(headers.get('ratelimit') ?? '');
  expect(match, headers.get('ratelimit') ?? 'no RateLimit header').not.toBeNull();
  expect(Number(match![1])).toBe(remaining);
  const t = Number(match![2]);
  expect(t).toBeGreaterThan(windowS - 5);
  expect(t).toBeLessThanOrEqual(windowS);
  expect(headers.get('x-ratelimit-limit')).toBe(String(limit));
  expect(headers.get('x-ratelimit-remaining')).toBe(String(remaining));
  expect(headers.get('x-ratelimit-reset')).toBe(String(t));
  return t;
}

describe('rate limits (API.md policies, counted in Postgres)', () => {
  it('login by IP: headers on every answer, then a 429 problem exactly per API.md', async () => {
    const ip = newIp();
    const email = uniqueEmail('nobody');
    for (const remaining of [2, 1, 0]) {
      // A new email each time: this is about the per-IP policy, not the failure lock-out.
      const response = await login(ip, uniqueEmail('nobody'));
      expect(response.status).toBe(401);
      expectWindow(response.headers, 'login', 3, 60, remaining);
      expect(response.headers.get('retry-after')).toBeNull();
    }
    const refused = await login(ip, email);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    const t = expectWindow(refused.headers, 'login', 3, 60, 0);
    expect(Number(refused.headers.get('retry-after'))).toBe(t);
    expect(refused.body).toEqual({
      type: 'https://api.stowage.test/problems/rate_limited',
      title: 'Too many requests',
      status: 429,
      detail: `Rate limit "login" reached (3 per 60 s); retry in ${t} s`,
      instance: '/v1/auth/login',
      code: 'rate_limited',
      request_id: refused.headers.get('x-request-id'),
    });
    // Another client is not affected; a spoofed leftmost entry does not escape the limit.
    expect((await login(newIp(), uniqueEmail('someone'))).status).toBe(401);
    const spoofed = await client.call('POST', '/v1/auth/login', {
      body: { email, password: PASSWORD },
      headers: { 'x-forwarded-for': `203.0.113.200, ${ip}` },
    });
    expect(spoofed.status).toBe(429);
  });

  it('IPv6 clients are counted per /64, IPv4 clients per address', async () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(clientKey('198.51.100.7')).toBe('198.51.100.7');
    const answers = [];
    for (const ip of ['2001:db8:5:6::1', '2001:db8:5:6::2', '2001:db8:5:6:ffff::3', '2001:db8:5:6::4']) {
      answers.push(await login(ip, uniqueEmail('v6')));
    }
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 429]);
    expect(answers[3]!.body!.detail).toMatch(/^Rate limit "login" reached/);
    expect((await login('2001:db8:5:7::1', uniqueEmail('v6b'))).status).toBe(401);
  });

  it('counting is atomic: 2L parallel requests against L give exactly L successes', async () => {
    const ip = newIp();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.call('POST', '/v1/auth/register', {
          body: { email: uniqueEmail('burst'), password: PASSWORD },
          headers: from(ip),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429, 429, 429]);
  });

  it('a key over its limit is refused from memory, without reading the table', async () => {
    const ip = newIp();
    for (let i = 0; i < 3; i++) await login(ip, 'x@example.com');
    expect((await login(ip, 'x@example.com')).status).toBe(429);
    await sql`delete from rate_limits where key = ${`login:${ip}`}`;
    expect((await login(ip, 'x@example.com')).status).toBe(429);
    const [row] = await sql`select count(*)::int as n from rate_limits where key = ${`login:${ip}`}`;
    expect(row!.n).toBe(0);
  });

  it('login_failures: 2 failures from one address lock that address out of the email, even for the right password', async () => {
    const email = uniqueEmail('victim');
    await registerFrom(newIp(), email);
    const attacker = newIp();
    for (let i = 0; i < 2; i++) expect((await login(attacker, email, 'wrong password!!')).status).toBe(401);
    const locked = await login(attacker, email, PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body!.code).toBe('rate_limited');
    expect(locked.body!.detail).toMatch(
      /^Too many failed logins for this account from this address; retry in \d+ s$/,
    );
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(locked.headers.get('ratelimit-policy')).toBe('"login";q=3;w=60, "login_failures";q=2;w=900');
    expect(locked.headers.get('ratelimit')).toMatch(
      new RegExp(`^"login";r=0;t=(59|60), "login_failures";r=0;t=${retryAfter}$`),
    );
    expect(locked.headers.get('x-ratelimit-remaining')).toBe('0');
    // A stranger's guesses never lock the owner out from another address (issue 10 #9).
    expect((await login(newIp(), email)).status).toBe(200);
  });

  it('login_failures_email: failures spread over many addresses lock the email everywhere', async () => {
    const email = uniqueEmail('spread');
    await registerFrom(newIp(), email);
    for (let i = 0; i < 5; i++) expect((await login(newIp(), email, 'wrong password!!')).status).toBe(401);
    const locked = await login(newIp(), email, PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body!.detail).toMatch(
      /^Too many failed logins for this account from any address; retry in \d+ s$/,
    );
    expect(locked.headers.get('ratelimit-policy')).toBe(
      '"login";q=3;w=60, "login_failures_email";q=5;w=3600',
    );
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(590);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(600);
  });

  it('login_failures: a successful login from the address resets its count', async () => {
    const email = uniqueEmail('forgetful');
    await registerFrom(newIp(), email);
    const ip = newIp();
    expect((await login(ip, email, 'wrong password!!')).status).toBe(401);
    expect((await login(ip, email)).status).toBe(200);
    expect((await login(ip, email, 'wrong password!!')).status).toBe(401);
    // One failure counted since the success, not two (the `login` policy allows no fourth try here).
    const key = `login_failures:${createHash('sha256').update(email).digest('base64url')}:${ip}`;
    const [row] = await sql`select points from rate_limits where key = ${key}`;
    expect(row?.points).toBe(1);
  });

  it('a wrong current_password on POST /v1/me/password counts as a failed login', async () => {
    const email = uniqueEmail('changer');
    await registerFrom(newIp(), email);
    const ip = newIp();
    const session = await login(ip, email);
    const change = (current: string) =>
      client.call('POST', '/v1/me/password', {
        token: session.body!.access_token,
        body: { current_password: current, password: 'a new passphrase!' },
        headers: from(ip),
      });
    for (let i = 0; i < 2; i++) expect((await change('wrong password!!')).status).toBe(422);
    const locked = await change(PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body!.detail).toMatch(/from this address/);
    expect((await login(ip, email)).status).toBe(429);
    expect((await login(newIp(), email)).status).toBe(200);
  });

  it('auth_failures: after 3 invalid credentials an address is refused, even with valid ones', async () => {
    const email = uniqueEmail('guesser');
    const registered = await client.call('POST', '/v1/auth/register', {
      body: { email, password: PASSWORD },
      headers: from(newIp()),
    });
    expect(registered.status).toBe(201);
    const session = await client.login(email);
    const ip = newIp();
    const bad = [
      'sk_notakeyatall0000000000000000000000000000000000',
      'not.a.jwt',
      'eyJhbGciOiJub25lIn0.e30.',
    ];
    for (const token of bad) {
      const answer = await client.call('GET', '/v1/documents', { token, headers: from(ip) });
      expect(answer.status).toBe(401);
    }
    const refused = await client.call('GET', '/v1/documents', {
      token: session.accessToken,
      headers: from(ip),
    });
    expect(refused.status).toBe(429);
    expect(refused.body!.detail).toMatch(
      /^Too many requests with invalid credentials from this address; retry in \d+ s$/,
    );
    expect(refused.headers.get('ratelimit-policy')).toBe('"auth_failures";q=3;w=60');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(50);
    // Other addresses, and the account itself, are unaffected.
    expect(
      (await client.call('GET', '/v1/documents', { token: session.accessToken, headers: from(newIp()) }))
        .status,
    ).toBe(200);
  });

  it('account: per user for session requests, whatever the IP', async () => {
    const email = uniqueEmail('busy');
    await client.register(email, PASSWORD, undefined);
    const session = await client.login(email);
    for (const remaining of [3, 2, 1, 0]) {
      const me = await client.call('GET', '/v1/me', { token: session.accessToken, headers: from(newIp()) });
      expect(me.status).toBe(200);
      expectWindow(me.headers, 'account', 4, 60, remaining);
    }
    const refused = await client.call('GET', '/v1/me', { token: session.accessToken });
    expect(refused.status).toBe(429);
    expect(refused.body!.detail).toMatch(/^Rate limit "account" reached \(4 per 60 s\); retry in \d+ s$/);
  });

  it('api_key: the tier’s burst allows 3 back-to-back, and both windows are reported', async () => {
    const session = await client.signUp('keys');
    const created = await client.call('POST', '/v1/api-keys', {
      token: session.accessToken,
      body: { name: 'ci' },
    });
    expect(created.status).toBe(201);
    const key = (created.body as Json).key as string;
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await client.call('GET', '/v1/documents', { token: key }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"api_key";q=100;w=60, "api_key_burst";q=3;w=2');
    expect(answers[0]!.headers.get('ratelimit')).toMatch(/^"api_key";r=99;t=60, "api_key_burst";r=2;t=2$/);
    expect(answers[2]!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(answers[3]!.body!.detail).toMatch(/^Rate limit "api_key_burst" reached/);
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await client.call('GET', '/v1/documents', { token: key })).status).toBe(200);
  });

  it('the OpenAPI document shows the 429 and the rate-limit headers on limited operations only', async () => {
    const document = (await client.call('GET', '/openapi.json')).body as {
      paths: Record<string, Json>;
      components: Record<string, Record<string, Json>>;
    };
    // Problem responses are shared components, referenced by $ref.
    const resolve = (value: Json) => {
      if (!value?.$ref) return value;
      const [, , kind, name] = (value.$ref as string).split('/');
      return document.components[kind!]![name!]!;
    };
    for (const [path, method] of [
      ['/v1/auth/login', 'post'],
      ['/v1/documents', 'get'],
      ['/v1/me', 'get'],
    ] as const) {
      const responses = document.paths[path]![method].responses;
      const refused = resolve(responses['429']);
      expect(refused.content['application/problem+json'], path).toBeDefined();
      expect(Object.keys(refused.headers)).toEqual(
        expect.arrayContaining(['Retry-After', 'RateLimit', 'RateLimit-Policy', 'X-RateLimit-Reset']),
      );
      const success = responses['200'];
      expect(Object.keys(success.headers)).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
    }
    expect(document.paths['/.well-known/jwks.json']!.get.responses['429']).toBeUndefined();
  });

  it('operations endpoints and jwks are not limited', async () => {
    for (const path of ['/livez', '/.well-known/jwks.json', '/openapi.json']) {
      const response = await client.call('GET', path);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toBeNull();
    }
  });

  it('limits are shared by two server processes on one database', async () => {
    const second = await spawnServer({
      DATABASE_URL: server.config.database.url!,
      S3_BUCKET: server.config.s3.bucket,
      RATE_LIMIT_PASSWORD_RESET: '2/1h',
    });
    const ip = newIp();
    const reset = (url: string) =>
      fetch(`${url}/v1/auth/password-reset`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...from(ip) },
        body: JSON.stringify({ email: uniqueEmail('reset') }),
      });
    const statuses = [];
    for (const url of [server.url, second.url, server.url, second.url])
      statuses.push((await reset(url)).status);
    expect(statuses).toEqual([202, 202, 429, 429]);
  });
});
