import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../src/platform/problem.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { probeModule } from './support/probe-module.ts';

let server: TestServer;
const PUBLIC = 'https://api.stowage.test';

beforeAll(async () => {
  server = await startTestServer({ modules: [probeModule()], env: { MAX_JSON_BODY_BYTES: '2048' } });
});

const call = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

const validItem = {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-probe': 'abc' },
  body: JSON.stringify({ name: 'report', tags: ['a'] }),
};

/** Asserts the RFC 9457 envelope and returns the body. */
async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.headers.get('cache-control')).toBe('no-store');
  const requestId = response.headers.get('x-request-id');
  expect(requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  const body = (await response.json()) as Problem;
  expect(body).toMatchObject({
    type: `${PUBLIC}/problems/${code}`,
    status,
    code,
    request_id: requestId,
    instance: new URL(response.url).pathname,
  });
  expect(typeof body.title).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/);
  return body;
}

describe('success path', () => {
  it('validates every input location and answers with the handler body', async () => {
    const response = await call('/probe/items/itm_abcd?limit=5', validItem);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: 'itm_abcd', name: 'report', tags: ['a'], limit: 5 });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    expect(response.headers.get('strict-transport-security')).toBeNull();
    expect(response.headers.get('x-powered-by')).toBeNull();
    expect(response.headers.get('server')).toBeNull();
  });
});

describe('error kinds', () => {
  it('unknown route → 404 not_found', async () => {
    await expectProblem(await call('/v1/nothing-here'), 404, 'not_found');
  });

  it('wrong method → 405 method_not_allowed with Allow computed from the routes', async () => {
    const response = await call('/probe/items/itm_abcd', { method: 'DELETE' });
    expect(response.headers.get('allow')).toBe('POST');
    const body = await expectProblem(response, 405, 'method_not_allowed');
    expect(body.detail).toBe('DELETE is not supported here; use POST');

    const readyz = await call('/readyz', { method: 'POST' });
    expect(readyz.headers.get('allow')).toBe('GET, HEAD');
    await expectProblem(readyz, 405, 'method_not_allowed');
  });

  it('malformed JSON → 400 bad_request', async () => {
    const response = await call('/probe/items/itm_abcd?limit=5', { ...validItem, body: '{"name": "x",' });
    const body = await expectProblem(response, 400, 'bad_request');
    expect(body.detail).toMatch(/malformed json/i);
  });

  it('schema violations in body → 422 with errors[] per field', async () => {
    const response = await call('/probe/items/itm_abcd?limit=5', {
      ...validItem,
      body: JSON.stringify({ tags: ['a', 'b', 'c', 'd'] }),
    });
    const body = await expectProblem(response, 422, 'validation_failed');
    expect(body.detail).toBe('2 fields are invalid');
    expect(body.errors).toEqual([
      { location: 'body', path: 'name', message: 'Required' },
      { location: 'body', path: 'tags', message: 'Too big: expected array to have <=3 items' },
    ]);
  });

  it('schema violations in query, path and headers → 422 naming the location', async () => {
    const query = await expectProblem(
      await call('/probe/items/itm_abcd?limit=500', validItem),
      422,
      'validation_failed',
    );
    expect(query.errors).toEqual([
      { location: 'query', path: 'limit', message: expect.stringMatching(/100/) },
    ]);

    const path = await expectProblem(
      await call('/probe/items/nope?limit=5', validItem),
      422,
      'validation_failed',
    );
    expect(path.errors).toEqual([{ location: 'path', path: 'id', message: expect.any(String) }]);

    const header = await expectProblem(
      await call('/probe/items/itm_abcd?limit=5', {
        ...validItem,
        headers: { 'content-type': 'application/json' },
      }),
      422,
      'validation_failed',
    );
    expect(header.errors).toEqual([{ location: 'header', path: 'x-probe', message: 'Required' }]);
  });

  it('a body of the wrong type → 415 unsupported_media_type', async () => {
    const response = await call('/probe/items/itm_abcd?limit=5', {
      ...validItem,
      headers: { 'content-type': 'text/plain', 'x-probe': 'abc' },
    });
    await expectProblem(response, 415, 'unsupported_media_type');
  });

  it('oversized JSON body → 413 payload_too_large, with and without Content-Length', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(4096) });
    await expectProblem(
      await call('/probe/items/itm_abcd?limit=5', { ...validItem, body: big }),
      413,
      'payload_too_large',
    );

    // Chunked (no Content-Length): the limit is enforced while reading.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const chunked = await call('/probe/items/itm_abcd?limit=5', {
      ...validItem,
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectProblem(chunked, 413, 'payload_too_large');
  });

  it('unknown error → bare 500 internal_error; the stack goes to the log with the request id', async () => {
    const response = await call('/probe/boom', { headers: { 'x-request-id': 'boom-1' } });
    const body = await expectProblem(response, 500, 'internal_error');
    expect(body).toEqual({
      type: `${PUBLIC}/problems/internal_error`,
      title: 'Internal error',
      status: 500,
      instance: '/probe/boom',
      code: 'internal_error',
      request_id: 'boom-1',
    });
    const logged = server.logs.lines.find(
      (line) => line.request_id === 'boom-1' && line.msg === 'unhandled error',
    );
    expect(logged).toBeDefined();
    expect((logged?.err as { stack?: string } | undefined)?.stack).toContain('kaboom');
    expect(logged?.level).toBe('error');
  });

  it('a zod failure while building a response is our bug: 500, logged, not 4xx', async () => {
    const response = await call('/probe/bad-response', { headers: { 'x-request-id': 'bad-response-1' } });
    await expectProblem(response, 500, 'internal_error');
    const logged = server.logs.lines.find(
      (line) => line.request_id === 'bad-response-1' && line.msg === 'unhandled error',
    );
    expect((logged?.err as { type?: string } | undefined)?.type).toBe('ZodError');
  });

  it('a request Node cannot parse → 400 problem+json with a request id', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(server.url);
      const socket = connect(Number(url.port), url.hostname);
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write('GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-ID: ok\r\n folded: injected\r\n\r\n');
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad request/);
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    const requestId = /x-request-id: (\S+)/i.exec(head ?? '')?.[1];
    const problem = JSON.parse(body ?? '');
    expect(problem).toMatchObject({ status: 400, code: 'bad_request', request_id: requestId });
  });
});

describe('X-Request-ID', () => {
  it('echoes a well-formed client id in the header and the error body', async () => {
    const id = 'client-req.42:attempt_1';
    const response = await call('/nope', { headers: { 'x-request-id': id } });
    expect(response.headers.get('x-request-id')).toBe(id);
    expect(((await response.json()) as Problem).request_id).toBe(id);
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['spaces', 'has space'],
    ['slash and quotes', 'a/b"c'],
    ['non-ASCII', 'ïd'],
    ['encoded CRLF', 'abc%0d%0aSet-Cookie:x=1'],
    ['empty', ''],
  ])('replaces a malformed id (%s) with a generated one', async (_name, id) => {
    const response = await call('/nope', { headers: { 'x-request-id': id } });
    const echoed = response.headers.get('x-request-id');
    expect(echoed).not.toBe(id);
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await response.json()) as Problem).request_id).toBe(echoed);
  });

  it('accepts the longest allowed id (128 chars)', async () => {
    const id = 'x'.repeat(128);
    expect((await call('/livez', { headers: { 'x-request-id': id } })).headers.get('x-request-id')).toBe(id);
  });

  it('is on success responses too', async () => {
    const response = await call('/probe/items/itm_abcd?limit=5', {
      ...validItem,
      headers: { ...validItem.headers, 'x-request-id': 'ok-1' },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBe('ok-1');
  });
});

describe('logging', () => {
  it('one access line per request with route template, status, duration and request id', async () => {
    await call('/probe/items/itm_zzzz?limit=5', {
      ...validItem,
      headers: { ...validItem.headers, 'x-request-id': 'acc-1' },
    });
    await call('/no/such/thing', { headers: { 'x-request-id': 'acc-2' } });
    const access = server.logs.lines.filter((line) => line.msg === 'request');
    const first = access.filter((line) => line.request_id === 'acc-1');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      method: 'POST',
      route: '/probe/items/:id',
      status: 201,
      client_ip: '127.0.0.1',
    });
    expect(first[0]?.duration_ms).toEqual(expect.any(Number));
    expect(access.find((line) => line.request_id === 'acc-2')).toMatchObject({
      route: 'unmatched',
      status: 404,
    });
  });

  it('a failing request logs its request id and never a secret it carried', async () => {
    const secrets = ['Bearer sk_live_s3cr3t_value', 'session=abcdef0123456789', 'hunter2-password-value'];
    await call('/probe/boom', {
      headers: { authorization: secrets[0]!, cookie: secrets[1]!, 'x-request-id': 'secret-1' },
    });
    await call('/probe/items/itm_abcd?limit=5', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: secrets[0]!, 'x-request-id': 'secret-2' },
      body: JSON.stringify({ password: secrets[2] }),
    });
    for (const id of ['secret-1', 'secret-2']) {
      expect(server.logs.lines.filter((line) => line.request_id === id).length).toBeGreaterThan(0);
    }
    const everything = server.logs.raw.join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
