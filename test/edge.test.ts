import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Json } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { probeModule, probeStats } from './support/probe-module.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      MAX_IN_FLIGHT: '2',
      HANDLER_TIMEOUT_MS: '400',
      CORS_ORIGINS: 'https://app.example.com',
      CORS_CREDENTIALS: 'true',
      SERVER_TIMING: 'true',
      SLOW_REQUEST_MS: '100',
      SLOW_QUERY_MS: '0',
    },
    modules: [probeModule()],
  });
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers });

describe('edge protection', () => {
  it('sheds load: beyond MAX_IN_FLIGHT an immediate 503 overloaded with Retry-After; probes still answer', async () => {
    const slow = [get('/probe/slow?ms=300'), get('/probe/slow?ms=300')];
    await new Promise((resolve) => setTimeout(resolve, 60));
    const started = performance.now();
    const shed = await get('/probe/slow?ms=0');
    expect(performance.now() - started).toBeLessThan(100);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.headers.get('content-type')).toBe('application/problem+json');
    const body = (await shed.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 503,
      code: 'overloaded',
      detail: 'This instance is serving its maximum of 2 requests',
    });
    expect(body.request_id).toBe(shed.headers.get('x-request-id'));
    expect((await get('/livez')).status).toBe(200);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await get('/probe/slow?ms=0')).status).toBe(200);
  });

  it('a handler that outlives HANDLER_TIMEOUT_MS gets 504 timeout, and its signal aborts', async () => {
    const abortedBefore = probeStats.sleepsAborted;
    const started = performance.now();
    const response = await get('/probe/slow?ms=5000');
    const elapsed = performance.now() - started;
    expect(response.status).toBe(504);
    expect(elapsed).toBeGreaterThan(390);
    expect(elapsed).toBeLessThan(1500);
    expect(await response.json()).toMatchObject({ code: 'timeout', detail: 'No response within 400 ms' });
    // The handler's own work was stopped, not left running behind the 504.
    expect(probeStats.sleepsAborted).toBe(abortedBefore + 1);
    expect((await get('/probe/slow?ms=0')).status).toBe(200);
  });

  it('a client that goes away aborts the handler’s signal', async () => {
    const abortedBefore = probeStats.sleepsAborted;
    // Gone after 100 ms; the 400 ms handler timeout has not fired when the count is read at ~250 ms.
    await fetch(`${server.url}/probe/slow?ms=3000`, { signal: AbortSignal.timeout(100) }).catch(
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(probeStats.sleepsAborted).toBe(abortedBefore + 1);
  });

  it('security headers exactly per API.md; HSTS only over TLS stated by a trusted proxy', async () => {
    const plain = await get('/v1/me');
    expect(
      Object.fromEntries(
        [...plain.headers].filter(([name]) => !['date', 'content-length', 'x-request-id'].includes(name)),
      ),
    ).toEqual({
      // No Origin, no CORS headers: only Vary, so caches keep browser and non-browser answers apart.
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'content-type': 'application/problem+json',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'permissions-policy': expect.stringContaining('camera=()'),
      'referrer-policy': 'no-referrer',
      'server-timing': expect.stringMatching(/^total;dur=[\d.]+, db;dur=[\d.]+;desc="\d+ queries"$/),
      vary: 'Origin',
      'www-authenticate': 'Bearer realm="stowage"',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      connection: 'keep-alive',
      'keep-alive': expect.any(String),
    });
    const tls = await get('/livez', { 'x-forwarded-proto': 'https' });
    expect(tls.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(
      (await get('/livez', { 'x-forwarded-proto': 'http' })).headers.get('strict-transport-security'),
    ).toBeNull();
  });

  it('CORS: listed origins only, with Vary: Origin, credentials and the exposed headers', async () => {
    const preflight = await fetch(`${server.url}/v1/documents`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, idempotency-key',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET,HEAD,POST,PUT,PATCH,DELETE');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    expect(preflight.headers.get('vary')).toContain('Origin');

    const allowed = await get('/livez', { origin: 'https://app.example.com' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-expose-headers')?.split(',')).toEqual(
      expect.arrayContaining([
        'X-Request-ID',
        'RateLimit',
        'RateLimit-Policy',
        'Retry-After',
        'ETag',
        'Location',
        'Deprecation',
        'Sunset',
        'Link',
        'Idempotent-Replayed',
      ]),
    );
    expect(allowed.headers.get('vary')).toBe('Origin');

    const foreign = await get('/livez', { origin: 'https://evil.example.net' });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('vary')).toBe('Origin');
  });

  it('Server-Timing counts the request’s queries; slow requests and slow queries are logged', async () => {
    const session = await api(server).signUp('timing');
    const me = await get('/v1/me', {
      authorization: `Bearer ${session.accessToken}`,
      'x-request-id': 'timing-1',
    });
    expect(me.status).toBe(200);
    const timing = /^total;dur=([\d.]+), db;dur=([\d.]+);desc="(\d+) queries", ratelimit;dur=([\d.]+)$/.exec(
      me.headers.get('server-timing') ?? '',
    );
    expect(timing, me.headers.get('server-timing') ?? 'no Server-Timing').not.toBeNull();
    const line = server.logs.lines.find((l) => l.msg === 'request' && l.request_id === 'timing-1')!;
    expect(line.db_queries).toBe(Number(timing![3]));
    expect(line.ratelimit_ms).toBe(Number(timing![4])); // the account policy, on the limiter's own pool
    expect(line.db_queries).toBeGreaterThanOrEqual(2); // the account and the session, then the handler's
    expect(Number(timing![2])).toBeLessThanOrEqual(Number(timing![1]));

    // Queries inside a transaction count too: the key's insert and its audit record (one statement:
    // audit_append extends the chain in Postgres). Authentication reads nothing now: the first request
    // cached the session's holder.
    const created = await fetch(`${server.url}/v1/api-keys`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${session.accessToken}`,
        'content-type': 'application/json',
        'x-request-id': 'timing-2',
      },
      body: JSON.stringify({ name: 'timed' }),
    });
    expect(created.status).toBe(201);
    const keyLine = server.logs.lines.find((l) => l.msg === 'request' && l.request_id === 'timing-2')!;
    expect(keyLine.db_queries).toBe(2);

    const slowQueries = server.logs.lines.filter(
      (l) => l.msg === 'slow query' && l.request_id === 'timing-1',
    );
    expect(slowQueries.length).toBeGreaterThan(0);
    for (const q of slowQueries) {
      expect(q.level).toBe('warn');
      expect(String(q.query)).toMatch(/^select /);
      expect(String(q.query)).not.toContain(session.user.id as string);
    }

    await get('/probe/slow?ms=150', { 'x-request-id': 'slow-1' });
    await get('/probe/slow?ms=350', { 'x-request-id': 'slow-2' });
    const slow = server.logs.lines.filter((l) => l.msg === 'slow request');
    expect(slow.find((l) => l.request_id === 'slow-1')).toMatchObject({
      level: 'warn',
      route: '/probe/slow',
      threshold_ms: 100,
    });
    expect(slow.find((l) => l.request_id === 'slow-2')).toMatchObject({
      level: 'error',
      route: '/probe/slow',
    });
  });

  it('a deprecated operation says so in every answer and in the OpenAPI document', async () => {
    for (const path of ['/probe/legacy?n=1', '/probe/legacy?n=x']) {
      const response = await get(path);
      expect(response.status).toBe(path.endsWith('x') ? 422 : 200);
      expect(response.headers.get('deprecation')).toBe('@1767225600');
      expect(response.headers.get('sunset')).toBe('Wed, 30 Jun 2027 00:00:00 GMT');
      expect(response.headers.get('link')).toBe(
        '<https://api.stowage.test/docs/migrations/legacy>; rel="deprecation"; type="text/html"',
      );
    }
    expect((await get('/probe/slow?ms=0')).headers.get('deprecation')).toBeNull();
    const document = (await (await get('/openapi.json')).json()) as { paths: Record<string, Json> };
    const operation = document.paths['/probe/legacy']!.get;
    expect(operation.deprecated).toBe(true);
    expect(Object.keys(operation.responses['200'].headers)).toEqual(
      expect.arrayContaining(['Deprecation', 'Sunset', 'Link']),
    );
    expect(document.paths['/probe/slow']!.get.deprecated).toBeUndefined();
  });

  it('per-route body limits: credentials above 4 KiB are refused with 413 before parsing', async () => {
    const login = (password: string) =>
      fetch(`${server.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'a@example.com', password }),
      });
    const big = await login('x'.repeat(5000));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({
      code: 'payload_too_large',
      detail: 'The body exceeds 4096 bytes',
    });
    expect((await login('x'.repeat(100))).status).toBe(401);
    const document = (await (await get('/openapi.json')).json()) as { paths: Record<string, Json> };
    expect(document.paths['/v1/auth/login']!.post.description).toContain(
      'The body may be at most 4096 bytes.',
    );
    expect(document.paths['/v1/auth/login']!.post.responses['413']).toBeDefined();
  });
});
