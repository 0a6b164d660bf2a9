import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Json, PASSWORD, uniqueEmail } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { startTestWorker } from './support/worker.ts';

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let dataDir: string;
/** Every secret the run handles; none may appear in a log line. */
const secrets = new Set<string>([PASSWORD]);

let signingJwk: Json;

beforeAll(async () => {
  dataDir = `/tmp/stowage-auth-${process.pid}`;
  // Configured like production, so the tests below can sign tokens the server trusts.
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  signingJwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'EdDSA' };
  server = await startTestServer({ env: { DATA_DIR: dataDir, JWT_SIGNING_KEY: JSON.stringify(signingJwk) } });
  // Reset mail is sent by the worker (to DATA_DIR/outbox/ here).
  await startTestWorker(server, { DATA_DIR: dataDir });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
});

afterAll(async () => {
  await sql.end();
  await rm(dataDir, { recursive: true, force: true });
});

const remember = <T extends string | undefined>(value: T): T => {
  if (value) secrets.add(value.replace(/^__Host-stowage_refresh=/, ''));
  return value;
};

const withoutRequestId = (body: Json | undefined) => {
  const { request_id: _id, ...rest } = body ?? {};
  return rest;
};

describe('register', () => {
  it('creates an account: 201 with the public user, never the hash', async () => {
    const email = uniqueEmail('Reg');
    const response = await client.call('POST', '/v1/auth/register', {
      body: { email: email.toUpperCase(), password: PASSWORD, name: 'Ada' },
    });
    expect(response.status).toBe(201);
    expect(response.body?.user).toEqual({
      id: expect.stringMatching(/^usr_[0-9a-z]{26}$/),
      email: email.toLowerCase(),
      name: 'Ada',
      role: 'user',
      tier: 'free',
      quota_bytes: 1024 ** 3,
      bytes_used: 0,
      document_count: 0,
      disabled: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(response.text).not.toMatch(/argon2|password/i);
    const [row] = await sql`select password_hash from users where email = ${email}`;
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    secrets.add(row?.password_hash);
  });

  it('409 email_taken for an existing email, whatever its case', async () => {
    const email = uniqueEmail();
    await client.register(email);
    const again = await client.call('POST', '/v1/auth/register', {
      body: { email: email.toUpperCase(), password: PASSWORD },
    });
    expect(again.status).toBe(409);
    expect(again.body?.code).toBe('email_taken');
  });

  it('422 for a short password and a bad email, both listed', async () => {
    const response = await client.call('POST', '/v1/auth/register', {
      body: { email: 'nope', password: 'short' },
    });
    expect(response.status).toBe(422);
    expect(response.body?.errors.map((e: Json) => e.path).sort()).toEqual(['email', 'password']);
  });
});

describe('login', () => {
  it('returns a bearer token, the user and a __Host- refresh cookie with every attribute', async () => {
    const email = uniqueEmail();
    await client.register(email);
    const response = await client.call('POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, user: { email } });
    remember(response.body?.access_token);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('__Host-stowage_refresh='))!;
    remember(cookie.split(';')[0]);
    const attributes = cookie
      .split(';')
      .slice(1)
      .map((a) => a.trim());
    expect(attributes.sort()).toEqual(
      ['HttpOnly', 'Max-Age=2592000', 'Path=/', 'SameSite=Strict', 'Secure'].sort(),
    );
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('unknown email and wrong password: the same 401 body', async () => {
    const email = uniqueEmail();
    await client.register(email);
    const wrong = await client.call('POST', '/v1/auth/login', {
      body: { email, password: 'not the password!' },
    });
    const unknown = await client.call('POST', '/v1/auth/login', {
      body: { email: uniqueEmail('ghost'), password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(withoutRequestId(wrong.body)).toEqual(withoutRequestId(unknown.body));
    expect(wrong.body?.code).toBe('invalid_credentials');
  });

  it('unknown email and wrong password take about the same time (median of 20 within 25 %)', async () => {
    const email = uniqueEmail();
    await client.register(email);
    const time = async (body: Json) => {
      const started = performance.now();
      const response = await client.call('POST', '/v1/auth/login', { body });
      expect(response.status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 20; i++) {
      wrong.push(await time({ email, password: 'not the password!' }));
      unknown.push(await time({ email: uniqueEmail('ghost'), password: 'not the password!' }));
    }
    const [a, b] = [median(wrong), median(unknown)];
    expect(
      Math.abs(a - b) / Math.max(a, b),
      `wrong ${a.toFixed(1)} ms vs unknown ${b.toFixed(1)} ms`,
    ).toBeLessThan(0.25);
  }, 60_000);
});

describe('access tokens', () => {
  let accessToken: string;
  let jwks: { keys: Json[] };

  beforeAll(async () => {
    const session = await client.signUp();
    accessToken = remember(session.accessToken);
    remember(session.refreshCookie);
    jwks = (await client.call('GET', '/.well-known/jwks.json')).body as { keys: Json[] };
  });

  const expect401 = async (token: string) => {
    const response = await client.call('GET', '/v1/me', { token });
    expect(response.status).toBe(401);
    expect(response.body?.code).toBe('unauthenticated');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  };

  it('JWKS publishes the verification key without its private part', () => {
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      alg: 'EdDSA',
      use: 'sig',
      kid: expect.any(String),
    });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('a valid token is accepted, with typ at+jwt, kid, iss, aud, sub, exp, iat, jti', async () => {
    expect((await client.call('GET', '/v1/me', { token: accessToken })).status).toBe(200);
    const [header, payload] = accessToken
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toEqual({ alg: 'EdDSA', kid: jwks.keys[0]?.kid, typ: 'at+jwt' });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    expect(payload.exp - payload.iat).toBe(900);
  });

  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

  it('alg none → 401', async () => {
    const claims = claimsOf(accessToken);
    const unsecured = new UnsecuredJWT(claims).encode();
    await expect401(unsecured);
    // The same with our kid and typ in the header.
    const header = Buffer.from(
      JSON.stringify({ alg: 'none', kid: jwks.keys[0]?.kid, typ: 'at+jwt' }),
    ).toString('base64url');
    await expect401(`${header}.${accessToken.split('.')[1]}.`);
  });

  it('HS256 signed with the public key as the secret → 401', async () => {
    const publicKey = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const forged = await new SignJWT(claimsOf(accessToken))
      .setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]?.kid, typ: 'at+jwt' })
      .sign(new TextEncoder().encode(String(publicKey)));
    await expect401(forged);
  });

  it('a token from a foreign key under our kid → 401', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new SignJWT(claimsOf(accessToken))
      .setProtectedHeader({ alg: 'EdDSA', kid: jwks.keys[0]?.kid, typ: 'at+jwt' })
      .sign(privateKey);
    await expect401(forged);
  });

  describe('signed with the server’s own key, one claim wrong at a time', () => {
    let signingKey: Awaited<ReturnType<typeof importJWK>>;
    const kid = 'test-key-1';

    beforeAll(async () => {
      signingKey = await importJWK(signingJwk, 'EdDSA');
    });

    const sign = (claims: Json, header: Json = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt', ...header })
        .sign(signingKey);

    it('control: a token re-signed with the server key and unchanged claims is accepted', async () => {
      expect((await client.call('GET', '/v1/me', { token: await sign(claimsOf(accessToken)) })).status).toBe(
        200,
      );
    });

    it('wrong aud → 401', async () => {
      await expect401(await sign({ ...claimsOf(accessToken), aud: 'https://evil.example' }));
    });

    it('wrong iss → 401', async () => {
      await expect401(await sign({ ...claimsOf(accessToken), iss: 'https://evil.example' }));
    });

    it('expired beyond the leeway → 401; within it → accepted', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(await sign({ ...claimsOf(accessToken), iat: now - 1000, exp: now - 61 }));
      expect(
        (
          await client.call('GET', '/v1/me', {
            token: await sign({ ...claimsOf(accessToken), exp: now - 10 }),
          })
        ).status,
      ).toBe(200);
    });

    it('wrong typ → 401', async () => {
      await expect401(await sign(claimsOf(accessToken), { typ: 'JWT' }));
    });

    it('an exp far beyond the configured lifetime → 401; the configured lifetime → accepted', async () => {
      const now = Math.floor(Date.now() / 1000);
      const ttl = server.config.auth.accessTokenTtlS;
      await expect401(await sign({ ...claimsOf(accessToken), iat: now, exp: now + 365 * 86_400 }));
      await expect401(await sign({ ...claimsOf(accessToken), iat: now, exp: now + ttl + 120 }));
      const fine = await sign({ ...claimsOf(accessToken), iat: now, exp: now + ttl });
      expect((await client.call('GET', '/v1/me', { token: fine })).status).toBe(200);
    });

    it('an iat in the future beyond the leeway → 401; within it → accepted', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(await sign({ ...claimsOf(accessToken), iat: now + 3600, exp: now + 3600 + 60 }));
      await expect401(await sign({ ...claimsOf(accessToken), iat: now + 120, exp: now + 180 }));
      const skewed = await sign({ ...claimsOf(accessToken), iat: now + 10, exp: now + 70 });
      expect((await client.call('GET', '/v1/me', { token: skewed })).status).toBe(200);
    });
  });
});

describe('key rotation', () => {
  it('an instance signing with a new key still accepts tokens of a key it only verifies, and publishes both', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const next = { ...(await exportJWK(privateKey)), kid: 'test-key-2', alg: 'ES256' };
    const { d: _private, ...previousPublic } = signingJwk;
    const rotated = await startTestServer({
      env: {
        DATABASE_URL: server.config.database.url,
        S3_BUCKET: server.config.s3.bucket,
        JWT_SIGNING_KEY: JSON.stringify(next),
        JWT_VERIFY_KEYS: JSON.stringify([previousPublic]),
      },
    });
    try {
      const jwks = (await (await fetch(`${rotated.url}/.well-known/jwks.json`)).json()) as { keys: Json[] };
      expect(jwks.keys.map((k) => [k.kid, k.alg])).toEqual([
        ['test-key-2', 'ES256'],
        ['test-key-1', 'EdDSA'],
      ]);
      const session = await client.signUp();
      remember(session.accessToken);
      const me = await fetch(`${rotated.url}/v1/me`, {
        headers: { authorization: `Bearer ${session.accessToken}` },
      });
      expect(me.status).toBe(200);
      const fresh = await api(rotated).login(session.email);
      remember(fresh.accessToken);
      expect(JSON.parse(Buffer.from(fresh.accessToken.split('.')[0]!, 'base64url').toString())).toMatchObject(
        {
          alg: 'ES256',
          kid: 'test-key-2',
        },
      );
      // The old instance does not know the new key yet: its verifier refuses, as it should.
      expect((await client.call('GET', '/v1/me', { token: fresh.accessToken })).status).toBe(401);
    } finally {
      await rotated.shutdown('done');
    }
  });

  it('in development the generated key is kept under DATA_DIR and reused', async () => {
    const dir = `${dataDir}-dev`;
    const env = {
      NODE_ENV: 'development' as const,
      DATA_DIR: dir,
      DATABASE_URL: server.config.database.url,
      S3_BUCKET: server.config.s3.bucket,
    };
    const first = await startTestServer({ env });
    const kid = ((await (await fetch(`${first.url}/.well-known/jwks.json`)).json()) as { keys: Json[] })
      .keys[0]?.kid;
    await first.shutdown('done');
    const second = await startTestServer({ env });
    const again = ((await (await fetch(`${second.url}/.well-known/jwks.json`)).json()) as { keys: Json[] })
      .keys[0]?.kid;
    await second.shutdown('done');
    await rm(dir, { recursive: true, force: true });
    expect(kid).toMatch(/^dev-/);
    expect(again).toBe(kid);
  });
});

describe('refresh and logout', () => {
  const refresh = (cookie: string, headers: Record<string, string> = {}) =>
    client.call('POST', '/v1/auth/refresh', { headers: { cookie, ...headers } });

  it('rotates the cookie; replaying a rotated token revokes the whole session', async () => {
    const session = await client.signUp();
    remember(session.refreshCookie);
    const first = await refresh(session.refreshCookie);
    expect(first.status).toBe(200);
    const rotated = remember(client.refreshCookieOf(first.headers))!;
    expect(rotated).not.toBe(session.refreshCookie);
    remember(first.body?.access_token);
    expect((await client.call('GET', '/v1/me', { token: first.body?.access_token })).status).toBe(200);
    // Once its successor has been used, the old token is no longer a retry within the grace period.
    const second = await refresh(rotated);
    expect(second.status).toBe(200);
    const newest = remember(client.refreshCookieOf(second.headers))!;

    const reuse = await refresh(session.refreshCookie);
    expect(reuse.status).toBe(401);
    expect(reuse.body?.code).toBe('refresh_token_reused');

    // The family is gone: the newest cookie and every access token of the session stop working.
    expect((await refresh(newest)).status).toBe(401);
    expect((await client.call('GET', '/v1/me', { token: first.body?.access_token })).status).toBe(401);
    expect((await client.call('GET', '/v1/me', { token: session.accessToken })).status).toBe(401);
    const [revoked] =
      await sql`select revoked_reason from sessions where user_id = (select id from users where email = ${session.email})`;
    expect(revoked?.revoked_reason).toBe('refresh_token_reused');
  });

  it('refuses a disallowed Origin (403) and accepts the API’s own', async () => {
    const session = await client.signUp();
    remember(session.refreshCookie);
    const evil = await refresh(session.refreshCookie, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.body?.code).toBe('forbidden');
    const own = await refresh(session.refreshCookie, { origin: 'https://api.stowage.test' });
    expect(own.status).toBe(200);
    remember(client.refreshCookieOf(own.headers));
  });

  it('without a cookie → 401', async () => {
    expect((await client.call('POST', '/v1/auth/refresh')).status).toBe(401);
  });

  it('logout: 204, cookie cleared, session revoked for refresh and access tokens alike', async () => {
    const session = await client.signUp();
    remember(session.refreshCookie);
    const response = await client.call('POST', '/v1/auth/logout', {
      headers: { cookie: session.refreshCookie },
    });
    expect(response.status).toBe(204);
    expect(response.headers.getSetCookie().join()).toMatch(/__Host-stowage_refresh=;.*Max-Age=0/);
    expect((await refresh(session.refreshCookie)).status).toBe(401);
    expect((await client.call('GET', '/v1/me', { token: session.accessToken })).status).toBe(401);
    // Idempotent: again, and without a cookie.
    expect(
      (await client.call('POST', '/v1/auth/logout', { headers: { cookie: session.refreshCookie } })).status,
    ).toBe(204);
    expect((await client.call('POST', '/v1/auth/logout')).status).toBe(204);
  });
});

describe('password reset', () => {
  const outbox = () => join(dataDir, 'outbox');
  const tokenMailedTo = async (email: string, waitMs = 5000) => {
    await server.services.passwords.drain(); // the reset work runs after the 202
    // The worker sends it a moment later.
    for (const deadline = Date.now() + waitMs; ; await new Promise((r) => setTimeout(r, 100))) {
      for (const file of (await readdir(outbox()).catch(() => [])).sort().reverse()) {
        const mail = JSON.parse(await readFile(join(outbox(), file), 'utf8'));
        if (mail.to === email) return remember(/\n\n([A-Za-z0-9_-]{43})\n\n/.exec(mail.text)?.[1]);
      }
      if (Date.now() > deadline) return undefined;
    }
  };

  it('202 for known and unknown emails alike; only the known one gets mail', async () => {
    const session = await client.signUp();
    const ghost = uniqueEmail('ghost');
    const known = await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } });
    const unknown = await client.call('POST', '/v1/auth/password-reset', { body: { email: ghost } });
    expect([known.status, known.text]).toEqual([202, '']);
    expect([unknown.status, unknown.text]).toEqual([202, '']);
    expect(await tokenMailedTo(session.email)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await tokenMailedTo(ghost, 1000)).toBeUndefined();
  });

  it('confirm: new password works, every session ends, the token is single-use', async () => {
    const session = await client.signUp();
    remember(session.accessToken);
    await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } });
    const token = (await tokenMailedTo(session.email))!;
    const newPassword = 'a brand new passphrase';
    secrets.add(newPassword);
    const confirm = await client.call('POST', '/v1/auth/password-reset/confirm', {
      body: { token, password: newPassword },
    });
    expect(confirm.status).toBe(204);
    expect((await client.call('GET', '/v1/me', { token: session.accessToken })).status).toBe(401);
    expect(
      (await client.call('POST', '/v1/auth/refresh', { headers: { cookie: session.refreshCookie } })).status,
    ).toBe(401);
    expect(
      (await client.call('POST', '/v1/auth/login', { body: { email: session.email, password: PASSWORD } }))
        .status,
    ).toBe(401);
    remember((await client.login(session.email, newPassword)).accessToken);
    const again = await client.call('POST', '/v1/auth/password-reset/confirm', {
      body: { token, password: 'yet another passphrase' },
    });
    expect(again.status).toBe(422);
    expect(again.body?.errors).toEqual([
      { location: 'body', path: 'token', message: 'Invalid, expired or already used' },
    ]);
  });

  it('an expired token is refused', async () => {
    const session = await client.signUp();
    await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } });
    const token = (await tokenMailedTo(session.email))!;
    await sql`update password_reset_tokens set expires_at = now() - interval '1 second'
              where user_id = (select id from users where email = ${session.email})`;
    const response = await client.call('POST', '/v1/auth/password-reset/confirm', {
      body: { token, password: 'a brand new passphrase' },
    });
    expect(response.status).toBe(422);
  });
});

describe('me', () => {
  it('GET and PATCH the account', async () => {
    const session = await client.signUp();
    remember(session.accessToken);
    const me = await client.call('GET', '/v1/me', { token: session.accessToken });
    expect(me.body).toMatchObject({
      email: session.email,
      name: null,
      quota_bytes: 1024 ** 3,
      bytes_used: 0,
      document_count: 0,
    });
    const renamed = await client.call('PATCH', '/v1/me', {
      token: session.accessToken,
      body: { name: '  Grace  ' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body?.name).toBe('Grace');
    expect(
      (await client.call('PATCH', '/v1/me', { token: session.accessToken, body: { name: '' } })).status,
    ).toBe(422);
  });

  it('password change revokes every other session and keeps the current one', async () => {
    const current = await client.signUp();
    const other = await client.login(current.email);
    remember(current.accessToken);
    remember(other.accessToken);
    const wrong = await client.call('POST', '/v1/me/password', {
      token: current.accessToken,
      body: { current_password: 'not the password!', password: 'another good passphrase' },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body?.errors[0]?.path).toBe('current_password');

    secrets.add('another good passphrase');
    const changed = await client.call('POST', '/v1/me/password', {
      token: current.accessToken,
      body: { current_password: PASSWORD, password: 'another good passphrase' },
    });
    expect(changed.status).toBe(204);
    expect((await client.call('GET', '/v1/me', { token: current.accessToken })).status).toBe(200);
    expect((await client.call('GET', '/v1/me', { token: other.accessToken })).status).toBe(401);
  });

  it('without credentials → 401 with WWW-Authenticate; a malformed header → 401', async () => {
    const none = await client.call('GET', '/v1/me');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="stowage"');
    expect(
      (await client.call('GET', '/v1/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } })).status,
    ).toBe(401);
  });
});

describe('access log', () => {
  it('names the user of an authenticated request', async () => {
    const session = await client.signUp();
    remember(session.accessToken);
    await client.call('GET', '/v1/me', { token: session.accessToken, headers: { 'x-request-id': 'who-1' } });
    const line = server.logs.lines.find((l) => l.request_id === 'who-1' && l.msg === 'request');
    // The public id customers quote, not the row's UUID.
    expect(line).toMatchObject({ route: '/v1/me', status: 200, user_id: session.user.id });
    expect(session.user.id).toMatch(/^usr_/);
  });
});

describe('secrets', () => {
  it('no password, token, key or hash collected in this run appears in any log line', () => {
    expect(secrets.size).toBeGreaterThan(15);
    const logs = server.logs.raw.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(logs, 'a secret was logged').not.toContain(secret);
    expect(logs).not.toMatch(/\$argon2id\$|"authorization"|"cookie"/i);
  });
});
