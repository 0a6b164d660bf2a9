// Smoke: one VU for a minute. Its first iteration visits every endpoint and the main error paths; the
// next ones repeat the document cycle with an API key, paced so the account stays under its policy.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { E } from '../lib/endpoints.ts';
import { header, rateLimitProblems } from '../lib/headers.ts';
import { isProblem, json, jsonHeaders, type Response, send } from './api.ts';
import { poolEmail, REFRESH_COOKIE } from './pool.ts';
import type { SetupData } from './setup.ts';

const DOC = 'Stowage k6 smoke document: 0123456789abcdefghijklmnopqrstuvwxyz\n';
const ITERATION_S = 20;

const problem = (res: Response, status: number, code: string) =>
  check(res, { [`${res.request.method} → ${status} ${code}`]: (r) => isProblem(r, status, code) });
const ok = (res: Response, name: string, condition: (r: Response) => boolean = () => true) =>
  check(res, { [name]: condition });
const body = <T>(res: Response) => json<T>(res);
const limitedOr = (res: Response, otherwise: (res: Response) => unknown) =>
  res.status === 429
    ? check(res, {
        '429 carries RateLimit headers and Retry-After': (r) =>
          rateLimitProblems(r.headers, true).length === 0,
      })
    : otherwise(res);

function operations(): void {
  ok(send('GET', '/livez', E.livez), 'livez: 200');
  ok(send('GET', '/readyz', E.readyz), 'readyz: pass', (r) => body<{ status: string }>(r)?.status === 'pass');
  ok(send('GET', '/startupz', E.startupz), 'startupz: 200');
  ok(send('GET', '/openapi.json', E.openapi), 'openapi: 3.1 document', (r) =>
    String(body<{ openapi: string }>(r)?.openapi).startsWith('3.1'),
  );
  ok(send('GET', '/.well-known/jwks.json', E.jwks), 'jwks: keys', (r) =>
    Array.isArray(body<{ keys: unknown[] }>(r)?.keys),
  );
  problem(send('GET', '/v1/no-such-route', E.unknownRoute, { expect: [404] }), 404, 'not_found');
}

/** Auth endpoints and their error paths; the session's requests run before it logs out. */
function authentication(data: SetupData): void {
  const user = data.users[0]!;
  const json = (value: unknown) => ({ body: JSON.stringify(value), headers: jsonHeaders });
  // `register` and `password_reset` allow a few calls per address and hour: a smoke run repeated within
  // the hour may meet their 429, which must then be a well-formed one.
  limitedOr(
    send('POST', '/v1/auth/register', E.register, {
      ...json({ email: user.email, password: data.password }),
      expect: [409, 429],
    }),
    (r) => problem(r, 409, 'email_taken'),
  );
  const stranger = `nobody-${data.runId}@${poolEmail(0).split('@')[1]}`;
  problem(
    send('POST', '/v1/auth/login', E.login, {
      ...json({ email: stranger, password: 'not the password at all' }),
      expect: [401],
    }),
    401,
    'invalid_credentials',
  );
  const login = send('POST', '/v1/auth/login', E.login, json({ email: user.email, password: data.password }));
  const cookie = login.cookies[REFRESH_COOKIE]?.[0]?.value;
  ok(login, 'login: token and refresh cookie', (r) =>
    Boolean(body<{ access_token: string }>(r)?.access_token && cookie),
  );
  const refresh = send('POST', '/v1/auth/refresh', E.refresh, {
    headers: { Cookie: `${REFRESH_COOKIE}=${cookie}` },
  });
  const rotated = refresh.cookies[REFRESH_COOKIE]?.[0]?.value;
  ok(
    refresh,
    'refresh: new token, rotated cookie',
    (r) => Boolean(body<{ access_token: string }>(r)?.access_token) && rotated !== cookie,
  );
  limitedOr(
    send('POST', '/v1/auth/password-reset', E.passwordReset, {
      ...json({ email: user.email }),
      expect: [202, 429],
    }),
    (r) => ok(r, 'password reset: 202', (res) => res.status === 202),
  );
  const token = body<{ access_token: string }>(refresh)?.access_token;
  if (token) {
    account(token, data);
    documents(token, data, true);
  }
  ok(
    send('POST', '/v1/auth/logout', E.logout, {
      headers: { Cookie: `${REFRESH_COOKIE}=${rotated}` },
      expect: [204],
    }),
    'logout: 204',
  );
}

function account(token: string, data: SetupData): void {
  const me = send('GET', '/v1/me', E.me, { auth: token });
  ok(me, 'me: the pool user', (r) => body<{ email: string }>(r)?.email === data.users[0]!.email);
  const anonymous = send('GET', '/v1/me', E.me, { expect: [401] });
  problem(anonymous, 401, 'unauthenticated');
  ok(anonymous, '401 carries WWW-Authenticate: Bearer', (r) =>
    (header(r.headers, 'WWW-Authenticate') ?? '').startsWith('Bearer'),
  );
  // The 413 is answered before the body is read: that connection is not reused.
  const patch = (raw: string, expect: number) =>
    send('PATCH', '/v1/me', E.updateMe, {
      auth: token,
      body: raw,
      headers: expect === 413 ? { ...jsonHeaders, Connection: 'close' } : jsonHeaders,
      expect: [expect],
    });
  ok(patch(JSON.stringify({ name: 'k6 smoke' }), 200), 'update me: 200');
  problem(patch('{"name":', 400), 400, 'bad_request');
  problem(patch(JSON.stringify({ name: 42 }), 422), 422, 'validation_failed');
  problem(patch(JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1) }), 413), 413, 'payload_too_large');
  const wrong = send('DELETE', '/v1/me', E.wrongMethod, { auth: token, expect: [405] });
  problem(wrong, 405, 'method_not_allowed');
  ok(wrong, '405 carries Allow', (r) => Boolean(header(r.headers, 'Allow')));
  problem(send('GET', '/v1/admin/users', E.adminUsers, { auth: token, expect: [403] }), 403, 'forbidden');

  const created = send('POST', '/v1/api-keys', E.createKey, {
    auth: token,
    body: JSON.stringify({ name: `k6 smoke ${data.runId}` }),
    headers: jsonHeaders,
    expect: [201],
  });
  const key = body<{ id: string; key: string }>(created);
  ok(created, 'api key: 201, secret shown once', () => String(key?.key).startsWith('sk_'));
  ok(
    send('GET', '/v1/api-keys', E.listKeys, { auth: token }),
    'api keys: listed without secrets',
    (r) => String(r.body).includes(String(key?.id)) && !String(r.body).includes(String(key?.key)),
  );
  ok(
    send('DELETE', `/v1/api-keys/${key?.id}`, E.deleteKey, { auth: token, expect: [204] }),
    'api key: deleted',
  );
  problem(send('GET', '/v1/me', E.me, { auth: key?.key, expect: [401] }), 401, 'unauthenticated');
}

/** Upload → list → get (ETag, 304) → content (range, 416) → patch (412) → other account 404 → delete. */
function documents(auth: string, data: SetupData, errorPaths: boolean): void {
  const upload = send('POST', '/v1/documents', E.upload, {
    auth,
    body: {
      file: http.file(DOC, `k6-${data.runId}-smoke.txt`, 'text/plain'),
      metadata: JSON.stringify({ k6: data.runId }),
    },
    expect: [201],
  });
  const doc = body<{ document: { id: string } }>(upload)?.document;
  ok(upload, 'upload: 201 with Location', (r) => Boolean(doc?.id && header(r.headers, 'Location')));
  if (!doc) return;
  const path = `/v1/documents/${doc.id}`;
  ok(
    send('GET', '/v1/documents?limit=5', E.list, { auth }),
    'list: the new document first',
    (r) => body<{ data: { id: string }[] }>(r)?.data?.[0]?.id === doc.id,
  );
  const got = send('GET', path, E.get, { auth });
  const etag = header(got.headers, 'ETag') ?? '';
  ok(got, 'get: 200 with ETag', () => etag !== '');
  ok(
    send('GET', path, E.get, { auth, headers: { 'If-None-Match': etag }, expect: [304] }),
    'get: 304 on If-None-Match',
  );
  ok(send('GET', `${path}/content`, E.download, { auth }), 'content: the bytes', (r) => r.body === DOC);
  if (errorPaths) {
    ok(
      send('GET', `${path}/content`, E.download, { auth, headers: { Range: 'bytes=0-9' }, expect: [206] }),
      'content: 206 range',
      (r) => String(r.body).length === 10,
    );
    problem(
      send('GET', `${path}/content`, E.download, {
        auth,
        headers: { Range: 'bytes=9000-9999' },
        expect: [416],
      }),
      416,
      'range_not_satisfiable',
    );
    const stale = send('PATCH', path, E.updateDoc, {
      auth,
      body: JSON.stringify({ name: 'stale.txt' }),
      headers: { ...jsonHeaders, 'If-Match': '"stale"' },
      expect: [412],
    });
    problem(stale, 412, 'precondition_failed');
    const other = data.users[1]!.key;
    problem(send('GET', path, E.get, { auth: other, expect: [404] }), 404, 'not_found');
  }
  ok(
    send('PATCH', path, E.updateDoc, {
      auth,
      body: JSON.stringify({ name: 'renamed.txt' }),
      headers: { ...jsonHeaders, 'If-Match': etag },
    }),
    'patch: 200 with a fresh ETag',
  );
  ok(send('DELETE', path, E.deleteDoc, { auth, expect: [204] }), 'delete: 204');
  problem(send('GET', path, E.get, { auth, expect: [404] }), 404, 'not_found');
}

function administration(data: SetupData): void {
  const auth = data.adminToken;
  if (!auth) return;
  ok(send('GET', '/v1/admin/users?limit=5', E.adminUsers, { auth }), 'admin users: 200');
  ok(send('GET', '/v1/admin/audit-events?limit=5', E.adminAudit, { auth }), 'admin audit: 200');
  ok(
    send('GET', '/v1/admin/runtime-mode', E.adminMode, { auth }),
    'admin runtime mode: normal',
    (r) => body<{ mode: string }>(r)?.mode === 'normal',
  );
  const patch = send('PATCH', `/v1/admin/users/${data.users[1]!.id}`, E.adminUpdateUser, {
    auth,
    body: JSON.stringify({ tier: data.tier ?? 'free' }),
    headers: jsonHeaders,
  });
  ok(patch, 'admin update user: 200');
}

export function smokeIteration(data: SetupData): void {
  const started = Date.now();
  const first = exec.vu.iterationInScenario === 0;
  if (first) {
    operations();
    authentication(data);
    administration(data);
  }
  documents(data.users[0]!.key, data, false);
  ok(send('GET', '/v1/me', E.me, { auth: data.users[0]!.key }), 'me with an API key: 200');
  sleep(Math.max(0, ITERATION_S - (Date.now() - started) / 1000));
}
