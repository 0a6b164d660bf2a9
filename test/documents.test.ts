import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Json, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { bucketObjects, randomFile, sha256, upload } from './support/uploads.ts';

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let alice: Session;
let bob: Session;

beforeAll(async () => {
  server = await startTestServer();
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
  [alice, bob] = [await client.signUp('alice'), await client.signUp('bob')];
});

afterAll(() => sql.end());

const get = (path: string, session: Session, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    headers: { authorization: `Bearer ${session.accessToken}`, ...headers },
    redirect: 'manual',
  });

describe('upload and download', () => {
  let document: Json;
  const bytes = randomFile(300_000);

  it('201 with the document, Location and ETag; bytes and sha256 round-trip', async () => {
    const created = await upload(
      server,
      alice.accessToken,
      { bytes, name: 'Q3 report.pdf' },
      { metadata: '{"project":"atlas"}' },
    );
    expect(created.status).toBe(201);
    document = created.body!.document;
    expect(document).toEqual({
      id: expect.stringMatching(/^doc_[0-9a-z]{26}$/),
      name: 'Q3 report.pdf',
      content_type: 'application/pdf',
      size_bytes: bytes.length,
      sha256: sha256(bytes),
      metadata: { project: 'atlas' },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(created.headers.get('location')).toBe(`/v1/documents/${document.id}`);
    expect(created.headers.get('etag')).toBe('"v1"');

    const content = await get(`/v1/documents/${document.id}/content`, alice);
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('application/pdf');
    expect(content.headers.get('content-length')).toBe(String(bytes.length));
    expect(content.headers.get('accept-ranges')).toBe('bytes');
    expect(content.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
    expect(content.headers.get('content-disposition')).toBe('attachment; filename="Q3 report.pdf"');
    expect(sha256(new Uint8Array(await content.arrayBuffer()))).toBe(sha256(bytes));

    const me = await client.call('GET', '/v1/me', { token: alice.accessToken });
    expect(me.body).toMatchObject({ bytes_used: bytes.length, document_count: 1 });
  });

  it('a `name` field wins over the file name; unsafe names get an RFC 6266 filename*', async () => {
    const created = await upload(
      server,
      alice.accessToken,
      { bytes: randomFile(10), name: 'a.pdf' },
      { name: 'résumé "final"\\.pdf' },
    );
    expect(created.body?.document.name).toBe('résumé "final"\\.pdf');
    const content = await get(`/v1/documents/${created.body?.document.id}/content`, alice);
    expect(content.headers.get('content-disposition')).toBe(
      `attachment; filename="r?sum? \\"final\\"\\\\.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%5C.pdf`,
    );
  });

  it('ranges: 206 with Content-Range; suffix ranges; 416 when unsatisfiable; malformed ignored', async () => {
    const path = `/v1/documents/${document.id}/content`;
    const first = await get(path, alice, { range: 'bytes=0-9' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-9/${bytes.length}`);
    expect(first.headers.get('content-length')).toBe('10');
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(bytes.slice(0, 10));

    const suffix = await get(path, alice, { range: 'bytes=-100' });
    expect(suffix.status).toBe(206);
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.slice(-100));

    const middle = await get(path, alice, { range: 'bytes=1000-' });
    expect(middle.headers.get('content-range')).toBe(`bytes 1000-${bytes.length - 1}/${bytes.length}`);
    expect(new Uint8Array(await middle.arrayBuffer())).toEqual(bytes.slice(1000));

    const outside = await get(path, alice, { range: `bytes=${bytes.length}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(((await outside.json()) as Json).code).toBe('range_not_satisfiable');

    const malformed = await get(path, alice, { range: 'lines=1-2' });
    expect(malformed.status).toBe(200);
    await malformed.arrayBuffer();
  });

  it('ETag / If-None-Match → 304 on metadata and content', async () => {
    const metadata = await get(`/v1/documents/${document.id}`, alice);
    expect(metadata.headers.get('etag')).toBe('"v1"');
    expect(((await metadata.json()) as Json).sha256).toBe(sha256(bytes));
    expect((await get(`/v1/documents/${document.id}`, alice, { 'if-none-match': '"v1"' })).status).toBe(304);
    expect(
      (await get(`/v1/documents/${document.id}`, alice, { 'if-none-match': 'W/"v1", "x"' })).status,
    ).toBe(304);
    expect((await get(`/v1/documents/${document.id}`, alice, { 'if-none-match': '"v0"' })).status).toBe(200);
    const content = await get(`/v1/documents/${document.id}/content`, alice, {
      'if-none-match': `"${sha256(bytes)}"`,
    });
    expect(content.status).toBe(304);
  });

  it('PATCH with If-Match: the current ETag updates, a stale one is 412', async () => {
    const path = `/v1/documents/${document.id}`;
    const patch = (body: unknown, ifMatch?: string) =>
      client.call('PATCH', path, {
        token: alice.accessToken,
        body,
        headers: ifMatch ? { 'if-match': ifMatch } : {},
      });
    const updated = await patch(
      { name: 'Q3 final.pdf', metadata: { project: 'atlas', final: true } },
      '"v1"',
    );
    expect(updated.status).toBe(200);
    expect(updated.headers.get('etag')).toBe('"v2"');
    expect(updated.body).toMatchObject({ name: 'Q3 final.pdf', metadata: { project: 'atlas', final: true } });
    const stale = await patch({ name: 'lost update' }, '"v1"');
    expect(stale.status).toBe(412);
    expect(stale.body?.code).toBe('precondition_failed');
    expect((await patch({ name: 'unconditional' })).status).toBe(200);
    expect((await patch({})).status).toBe(422);
    expect((await patch({ name: 'x' }, 'W/"v3"')).status).toBe(412); // weak tags never match If-Match
  });

  it('?redirect=true → 302 to a presigned URL that serves the bytes', async () => {
    const response = await get(`/v1/documents/${document.id}/content?redirect=true`, alice);
    expect(response.status).toBe(302);
    const location = response.headers.get('location')!;
    expect(location).toMatch(/X-Amz-Expires=300/);
    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(sha256(new Uint8Array(await direct.arrayBuffer()))).toBe(sha256(bytes));
  });
});

describe('ownership (BOLA)', () => {
  it('another account’s document is 404 on every verb, and stays untouched', async () => {
    const mine = (await upload(server, alice.accessToken, { bytes: randomFile(100) })).body!.document;
    const base = `/v1/documents/${mine.id}`;
    for (const [method, path] of [
      ['GET', base],
      ['GET', `${base}/content`],
      ['GET', `${base}/content?redirect=true`],
    ] as const) {
      const response = await client.call(method, path, { token: bob.accessToken });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body?.code).toBe('not_found');
    }
    expect(
      (await client.call('PATCH', base, { token: bob.accessToken, body: { name: 'pwned' } })).status,
    ).toBe(404);
    expect((await client.call('DELETE', base, { token: bob.accessToken })).status).toBe(404);
    const list = await client.call('GET', '/v1/documents', { token: bob.accessToken });
    expect(list.body?.data.map((d: Json) => d.id)).not.toContain(mine.id);
    expect((await client.call('GET', base, { token: alice.accessToken })).body?.name).toBe('report.pdf');
  });
});

describe('listing', () => {
  it('returns every document exactly once while others are being uploaded', async () => {
    const carol = await client.signUp('carol');
    for (let i = 0; i < 7; i++)
      await upload(server, carol.accessToken, { bytes: randomFile(10), name: `seed-${i}.pdf` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body?: Json } = await client.call(
        'GET',
        `/v1/documents?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: carol.accessToken,
        },
      );
      seen.push(...page.body!.data.map((d: Json) => d.name));
      cursor = page.body!.next_cursor;
      // Newer documents land before the cursor (newest first) and must not shift the pages.
      await upload(server, carol.accessToken, { bytes: randomFile(10), name: `during-${seen.length}.pdf` });
    } while (cursor);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `seed-${i}.pdf`));
  });

  it('filters by name (q) and content type, orders by name, and rejects a cursor of another order', async () => {
    const dave = await client.signUp('dave');
    await upload(server, dave.accessToken, {
      bytes: randomFile(5),
      name: 'beta notes.txt',
      type: 'text/plain',
    });
    await upload(server, dave.accessToken, { bytes: randomFile(5), name: 'alpha.pdf' });
    await upload(server, dave.accessToken, { bytes: randomFile(5), name: 'gamma 100%.pdf' });
    const names = async (query: string) =>
      (await client.call('GET', `/v1/documents?${query}`, { token: dave.accessToken })).body?.data.map(
        (d: Json) => d.name,
      );
    expect(await names('order=name.asc')).toEqual(['alpha.pdf', 'beta notes.txt', 'gamma 100%.pdf']);
    expect(await names('q=NOTES')).toEqual(['beta notes.txt']);
    expect(await names('q=100%25')).toEqual(['gamma 100%.pdf']);
    expect(await names('q=_')).toEqual([]);
    expect(await names('content_type=text/plain')).toEqual(['beta notes.txt']);
    expect(await names('order=created_at.asc')).toEqual(['beta notes.txt', 'alpha.pdf', 'gamma 100%.pdf']);
    const page = await client.call('GET', '/v1/documents?limit=1&order=name.asc', {
      token: dave.accessToken,
    });
    const wrong = await client.call('GET', `/v1/documents?cursor=${page.body?.next_cursor}`, {
      token: dave.accessToken,
    });
    expect(wrong.status).toBe(422);
    expect((await client.call('GET', '/v1/documents?limit=0', { token: dave.accessToken })).status).toBe(422);
  });
});

describe('validation', () => {
  it('any declared type by default (API.md); 415 for a non-multipart body; 422 without a file or with bad metadata', async () => {
    const html = await upload(server, alice.accessToken, {
      bytes: randomFile(10),
      type: 'text/html',
      name: 'x.html',
    });
    expect([html.status, html.body?.document.content_type]).toEqual([201, 'text/html']);
    const json = await client.call('POST', '/v1/documents', {
      token: alice.accessToken,
      body: { file: 'x' },
    });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.append('name', 'nothing');
    const none = await fetch(`${server.url}/v1/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.accessToken}` },
      body: form,
    });
    expect(none.status).toBe(422);
    expect(((await none.json()) as Json).errors).toEqual([
      { location: 'body', path: 'file', message: 'Required' },
    ]);
    const meta = await upload(server, alice.accessToken, { bytes: randomFile(10) }, { metadata: '[1,2]' });
    expect(meta.status).toBe(422);
    const big = await upload(
      server,
      alice.accessToken,
      { bytes: randomFile(10) },
      { metadata: JSON.stringify({ x: 'y'.repeat(5000) }) },
    );
    expect(big.status).toBe(422);
  });

  it('no rows or objects are left by refused uploads', async () => {
    const [pending] = await sql`select count(*)::int as n from documents where status <> 'ready'`;
    expect(pending?.n).toBe(0);
    const [stored] = await sql`select count(*)::int as n from documents`;
    expect((await bucketObjects(server)).length).toBe(stored?.n);
  });
});

describe('delete', () => {
  it('204; the quota is released in the same transaction and the object is gone', async () => {
    const erin = await client.signUp('erin');
    const doc = (await upload(server, erin.accessToken, { bytes: randomFile(1234) })).body!.document;
    expect((await client.call('GET', '/v1/me', { token: erin.accessToken })).body).toMatchObject({
      bytes_used: 1234,
      document_count: 1,
    });
    expect((await client.call('DELETE', `/v1/documents/${doc.id}`, { token: erin.accessToken })).status).toBe(
      204,
    );
    expect((await client.call('GET', '/v1/me', { token: erin.accessToken })).body).toMatchObject({
      bytes_used: 0,
      document_count: 0,
    });
    expect((await client.call('GET', `/v1/documents/${doc.id}`, { token: erin.accessToken })).status).toBe(
      404,
    );
    expect((await bucketObjects(server)).some((o) => o.key.endsWith(doc.id))).toBe(false);
    expect((await client.call('DELETE', `/v1/documents/${doc.id}`, { token: erin.accessToken })).status).toBe(
      404,
    );
  });
});

describe('idempotent uploads', () => {
  it('same key and bytes → the same document, quota charged once', async () => {
    const frank = await client.signUp('frank');
    const bytes = randomFile(4096);
    const first = await upload(server, frank.accessToken, { bytes }, {}, { 'idempotency-key': '"upload-1"' });
    const again = await upload(server, frank.accessToken, { bytes }, {}, { 'idempotency-key': '"upload-1"' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.body).toEqual(first.body);
    expect((await client.call('GET', '/v1/me', { token: frank.accessToken })).body).toMatchObject({
      bytes_used: 4096,
      document_count: 1,
    });
    const other = await upload(
      server,
      frank.accessToken,
      { bytes: randomFile(10) },
      {},
      { 'idempotency-key': '"upload-1"' },
    );
    expect(other.status).toBe(422);
  });
});
