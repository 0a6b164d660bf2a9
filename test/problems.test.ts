// Every problem code has a page (meaning, typical causes, fix) reachable from the docs, and the errors
// clients most often hit say how to fix them.
import { beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_GUIDES } from '../src/modules/problems/problem-guides.ts';
import { PROBLEMS } from '../src/platform/problem.ts';
import { api, type Json, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { randomFile, upload } from './support/uploads.ts';

let server: TestServer;
let client: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startTestServer();
  client = api(server);
});

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

describe('problem pages', () => {
  it('every code has a guide with causes and a fix, and a page showing meaning, causes and fix', async () => {
    for (const [code, spec] of Object.entries(PROBLEMS)) {
      const guide = PROBLEM_GUIDES[code];
      expect(guide?.causes.length, code).toBeGreaterThan(0);
      expect(guide?.fix.length, code).toBeGreaterThan(20);
      const response = await fetch(`${server.url}/problems/${code}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src/);
      const html = await response.text();
      expect(html).toContain(`<h1>${spec.title}</h1>`);
      for (const heading of ['Meaning', 'Typical causes', 'How to fix it']) {
        expect(html).toContain(`<h2>${heading}</h2>`);
      }
      expect(html.match(/<li>/g)?.length, code).toBe(guide!.causes.length);
      expect(text(html)).toContain(guide!.fix.replaceAll('`', ''));
      expect(html).toContain('<a href="/problems">');
    }
  });

  it('/problems lists every code, each linked to its page; the OpenAPI document links /problems', async () => {
    const index = await fetch(`${server.url}/problems`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    const html = await index.text();
    const linked = [...html.matchAll(/<a href="\/problems\/(\w+)">/g)].map((m) => m[1]);
    expect(linked.sort()).toEqual(Object.keys(PROBLEMS).sort());

    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as Json;
    expect(document.info.description).toContain(`(${server.config.publicUrl}/problems)`);
    expect(document.components.schemas.Problem.description).toContain('/problems');
    expect(document.paths).toHaveProperty('/problems');
    // The documented headers customers rely on: Content-Range on 206 and 416, Location on 302.
    const content = document.paths['/v1/documents/{id}/content'].get.responses;
    expect(content['206'].headers).toHaveProperty('Content-Range');
    expect(content['302'].headers).toHaveProperty('Location');
    const refusedRange = document.components.responses[content['416'].$ref.split('/').at(-1)];
    expect(refusedRange.headers).toHaveProperty('Content-Range');
  });

  it('answers JSON when asked (content negotiation)', async () => {
    const accept = { accept: 'application/json' };
    const list = await fetch(`${server.url}/problems`, { headers: accept });
    expect(list.headers.get('content-type')).toBe('application/json');
    const { data } = (await list.json()) as { data: Json[] };
    expect(data).toHaveLength(Object.keys(PROBLEMS).length);
    expect(data).toContainEqual({
      code: 'rate_limited',
      status: 429,
      title: 'Too many requests',
      url: `${server.config.publicUrl}/problems/rate_limited`,
    });
    const one = (await (
      await fetch(`${server.url}/problems/quota_exceeded`, { headers: accept })
    ).json()) as Json;
    expect(one).toMatchObject({
      code: 'quota_exceeded',
      status: 413,
      meaning: PROBLEMS.quota_exceeded.description,
      causes: PROBLEM_GUIDES.quota_exceeded!.causes,
      fix: PROBLEM_GUIDES.quota_exceeded!.fix,
    });
  });
});

describe('errors that say how to fix them', () => {
  let session: Session;
  let doc: Json;
  beforeAll(async () => {
    session = await client.signUp();
    doc = (await upload(server, session.accessToken, { bytes: randomFile(1000) })).body!.document as Json;
  });
  const auth = () => ({ token: session.accessToken });

  it('email_taken points at login and password reset', async () => {
    const again = await client.call('POST', '/v1/auth/register', {
      body: { email: session.email, password: session.password },
    });
    expect([again.status, again.body?.code]).toEqual([409, 'email_taken']);
    expect(again.body?.detail).toMatch(/POST \/v1\/auth\/login.*POST \/v1\/auth\/password-reset/);
  });

  it('not_found says what was not found', async () => {
    const route = await client.call('GET', '/v1/nope');
    expect(route.body?.detail).toBe('No operation at GET /v1/nope; every operation is listed at /docs');
    const missing = 'doc_01jdx5m7kqf3v9r2w8y4t6n0hc';
    const document = await client.call('GET', `/v1/documents/${missing}`, auth());
    expect([document.status, document.body?.detail]).toEqual([
      404,
      `No document ${missing} in this account: it was deleted, or the id is of another account`,
    ]);
  });

  it('idempotency_key_reused says to use a new key', async () => {
    const key = { 'idempotency-key': `k-${Date.now()}` };
    expect(
      (await client.call('POST', '/v1/api-keys', { ...auth(), body: { name: 'a' }, headers: key })).status,
    ).toBe(201);
    const reused = await client.call('POST', '/v1/api-keys', {
      ...auth(),
      body: { name: 'b' },
      headers: key,
    });
    expect([reused.status, reused.body?.code]).toEqual([422, 'idempotency_key_reused']);
    expect(reused.body?.detail).toMatch(/different request.*new key/);
  });

  it('416 gives the size and a range that works', async () => {
    const response = await client.call('GET', `/v1/documents/${doc.id}/content`, {
      ...auth(),
      headers: { range: 'bytes=5000-' },
    });
    expect([response.status, response.headers.get('content-range')]).toEqual([416, 'bytes */1000']);
    expect(response.body?.detail).toMatch(/has 1000 bytes: ask for bytes within 0-999/);
  });

  it('a JSON operation given another media type says to send application/json', async () => {
    const response = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'email=a',
    });
    const body = (await response.json()) as Json;
    expect([response.status, body.code]).toEqual([415, 'unsupported_media_type']);
    expect(body.detail).toBe('This operation takes a JSON body: send it with Content-Type: application/json');
  });

  it('an unquoted If-Match is a 422 saying ETags are quoted, not a stale-version 412', async () => {
    const etag = (await client.call('GET', `/v1/documents/${doc.id}`, auth())).headers.get('etag')!;
    const unquoted = await client.call('PATCH', `/v1/documents/${doc.id}`, {
      ...auth(),
      body: { name: 'x.pdf' },
      headers: { 'if-match': etag.replaceAll('"', '') },
    });
    expect([unquoted.status, unquoted.body?.code]).toEqual([422, 'validation_failed']);
    expect(unquoted.body?.detail).toBe('If-Match must hold quoted ETags, e.g. If-Match: "v3"');
    expect(unquoted.body?.errors).toEqual([
      expect.objectContaining({ location: 'header', path: 'if-match' }),
    ]);
  });

  it('DELETE honours If-Match: a stale ETag is 412 and keeps the document; the current one deletes it', async () => {
    const etag = (await client.call('GET', `/v1/documents/${doc.id}`, auth())).headers.get('etag')!;
    expect(
      (await client.call('PATCH', `/v1/documents/${doc.id}`, { ...auth(), body: { name: 'renamed.pdf' } }))
        .status,
    ).toBe(200);
    const stale = await client.call('DELETE', `/v1/documents/${doc.id}`, {
      ...auth(),
      headers: { 'if-match': etag },
    });
    expect([stale.status, stale.body?.code]).toEqual([412, 'precondition_failed']);
    expect(stale.body?.detail).toMatch(/GET it again for the current ETag/);
    expect((await client.call('GET', `/v1/documents/${doc.id}`, auth())).status).toBe(200);
    const current = (await client.call('GET', `/v1/documents/${doc.id}`, auth())).headers.get('etag')!;
    expect(
      (
        await client.call('DELETE', `/v1/documents/${doc.id}`, {
          ...auth(),
          headers: { 'if-match': current },
        })
      ).status,
    ).toBe(204);
  });
});
