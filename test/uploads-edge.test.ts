// Issue 10 #10/#11 and issue 11 #1: content types as API.md's Documents section says them, raw UTF-8 file
// names, early refusals that close honestly, compressed bodies, If-Range.
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Json, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { rawExchange } from './support/raw-http.ts';
import { bucketObjects, multipartFrame, upload } from './support/uploads.ts';

const MiB = 1024 * 1024;
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(64, 0),
]);
const PDF = Buffer.from(
  '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n',
);

let open: TestServer;
let strict: TestServer;
let sql: postgres.Sql;
let alice: Session;
let carol: Session;

beforeAll(async () => {
  open = await startTestServer({ env: { MAX_UPLOAD_BYTES: String(MiB) } });
  strict = await startTestServer({
    env: { ALLOWED_CONTENT_TYPES: 'application/pdf,image/png,text/plain' },
  });
  sql = postgres(open.config.database.url!, { max: 2 });
  alice = await api(open).signUp('alice');
  carol = await api(strict).signUp('carol');
});

afterAll(() => sql.end());

/** One upload whose file part is framed by hand: `partHeaders` are its headers after Content-Disposition. */
async function framedUpload(
  server: TestServer,
  session: Session,
  filename: string,
  partHeaders: string,
  bytes: Buffer,
) {
  const boundary = 'xYzBoundary42';
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n${partHeaders}\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const response = await fetch(`${server.url}/v1/documents`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${session.accessToken}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

describe('content types (API.md, Documents)', () => {
  it('`curl -F file=@…` for a .docx, a .zip and a file without extension: 201, application/octet-stream kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stowage-curl-'));
    for (const name of ['report.docx', 'archive.zip', 'README']) {
      const path = join(dir, name);
      await writeFile(path, Buffer.from(`PK\u0003\u0004 not really a ${name}`));
      const { stdout } = await promisify(execFile)('curl', [
        '-sS',
        '-w',
        '\n%{http_code}',
        '-H',
        `Authorization: Bearer ${alice.accessToken}`,
        '-F',
        `file=@${path}`,
        `${open.url}/v1/documents`,
      ]);
      const [body = '', status] = stdout.split('\n');
      expect(status, body).toBe('201');
      expect(JSON.parse(body).document).toMatchObject({ name, content_type: 'application/octet-stream' });
    }
  });

  it('a part without Content-Type is stored as application/octet-stream; any declared type is kept', async () => {
    const none = await framedUpload(open, alice, 'plain.bin', '', Buffer.from('bytes'));
    expect([none.status, none.body.document?.content_type]).toEqual([201, 'application/octet-stream']);
    const odd = await framedUpload(
      open,
      alice,
      'x.foo',
      'Content-Type: application/x-foo\r\n',
      Buffer.from('x'),
    );
    expect([odd.status, odd.body.document?.content_type]).toEqual([201, 'application/x-foo']);
  });

  it('the file part keeps its declared type when field parts follow it in the same chunk (curl -F order)', async () => {
    const boundary = 'curlOrder42';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="hello.txt"\r\nContent-Type: text/plain\r\n\r\n` +
      `Hello\r\n--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"a":1}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nhello\r\n--${boundary}--\r\n`;
    const response = await fetch(`${open.url}/v1/documents`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.accessToken}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
    });
    const created = (await response.json()) as Json;
    expect([response.status, created.document?.content_type, created.document?.metadata]).toEqual([
      201,
      'text/plain',
      { a: 1 },
    ]);
  });

  it('a part whose Content-Type cannot be parsed is 415 (not text/plain), saying what is accepted', async () => {
    for (const type of ['pdf', 'image/', '/png', 'text plain']) {
      const result = await framedUpload(open, alice, 'x.pdf', `Content-Type: ${type}\r\n`, PDF);
      expect(result.status, type).toBe(415);
      expect(result.body).toMatchObject({ code: 'unsupported_media_type' });
      expect(result.body.detail).toMatch(/not a valid media type.*Any well-formed type is accepted/);
    }
  });

  it('with ALLOWED_CONTENT_TYPES: PNG declared but PDF bytes → 415, nothing stored; matching bytes → 201', async () => {
    const lie = await framedUpload(strict, carol, 'fake.png', 'Content-Type: image/png\r\n', PDF);
    expect(lie.status).toBe(415);
    expect(lie.body.code).toBe('unsupported_media_type');
    expect(lie.body.detail).toMatch(/application\/pdf, not the declared image\/png/);
    expect(lie.body.detail).toContain('Accepted types: application/pdf, image/png, text/plain');
    const textLie = await framedUpload(strict, carol, 'a.txt', 'Content-Type: text/plain\r\n', PNG);
    expect(textLie.status).toBe(415);
    const noSignature = await framedUpload(
      strict,
      carol,
      'b.pdf',
      'Content-Type: application/pdf\r\n',
      Buffer.from('hello'),
    );
    expect(noSignature.status).toBe(415);
    expect(noSignature.body.detail).toMatch(/signature of the declared application\/pdf/);
    const html = await framedUpload(
      strict,
      carol,
      'x.html',
      'Content-Type: text/html\r\n',
      Buffer.from('<p>'),
    );
    expect(html.status).toBe(415);
    expect(html.body.detail).toMatch(
      /text\/html are not accepted.*Accepted types: application\/pdf, image\/png, text\/plain/,
    );
    const octet = await framedUpload(strict, carol, 'y', '', PDF);
    expect(octet.status).toBe(415);
    expect(octet.body.detail).toMatch(/no Content-Type.*Accepted types/);

    const strictSql = postgres(strict.config.database.url!, { max: 1 });
    try {
      expect(await strictSql`select status from documents`).toEqual([]);
      expect(await bucketObjects(strict)).toEqual([]);
      for (const [type, bytes] of [
        ['image/png', PNG],
        ['application/pdf', PDF],
        ['text/plain', Buffer.from('just text\n')],
      ] as const) {
        const good = await framedUpload(strict, carol, 'ok', `Content-Type: ${type}\r\n`, bytes);
        expect([good.status, good.body.document?.content_type, good.body.document?.size_bytes]).toEqual([
          201,
          type,
          bytes.length,
        ]);
      }
      // A large file is checked on its first bytes only and streams through whole.
      const big = Buffer.concat([PDF, Buffer.alloc(3 * MiB, 0x20)]);
      const bigUpload = await upload(strict, carol.accessToken, { bytes: big, type: 'application/pdf' });
      expect([bigUpload.status, bigUpload.body?.document.size_bytes]).toEqual([201, big.length]);
    } finally {
      await strictSql.end();
    }
  });
});

describe('raw UTF-8 file names (browsers send them so)', () => {
  it.each(['résumé.pdf', '履歴書.pdf'])('%s is read as UTF-8', async (name) => {
    const result = await framedUpload(open, alice, name, 'Content-Type: application/pdf\r\n', PDF);
    expect(result.status).toBe(201);
    expect(result.body.document.name).toBe(name);
  });
});

describe('a request body with Content-Encoding', () => {
  it('is refused with 415 on JSON routes and on uploads, not read as plain', async () => {
    const json = await fetch(`${open.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ email: alice.email, password: alice.password })),
    });
    const problem = (await json.json()) as Json;
    expect(json.status).toBe(415);
    expect(problem).toMatchObject({ code: 'unsupported_media_type' });
    expect(problem.detail).toMatch(/Content-Encoding "gzip".*uncompressed/);
    const frame = multipartFrame('z.pdf', 'application/pdf');
    const uploadResponse = await fetch(`${open.url}/v1/documents`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.accessToken}`,
        'content-type': frame.contentType,
        'content-encoding': 'gzip',
      },
      body: gzipSync(Buffer.concat([frame.head, PDF, frame.tail])),
    });
    expect(uploadResponse.status).toBe(415);
    const identity = await fetch(`${open.url}/v1/me`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${alice.accessToken}`,
        'content-type': 'application/json',
        'content-encoding': 'identity',
      },
      body: JSON.stringify({ name: 'Alice' }),
    });
    expect(identity.status).toBe(200);
  });
});

describe('an early refusal on a keep-alive connection', () => {
  it('413 before the body is read says Connection: close, and the pooled client’s next request succeeds', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const frame = multipartFrame('big.pdf', 'application/pdf');
    const total = 3 * MiB;
    const first = await new Promise<{ status?: number; connection?: string; error?: string }>((resolve) => {
      const req = request(
        `${open.url}/v1/documents`,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${alice.accessToken}`,
            'content-type': frame.contentType,
            'content-length': String(frame.head.length + total + frame.tail.length),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      // The body keeps coming for about 800 ms after the answer: longer than the server drains.
      void (async () => {
        req.write(frame.head);
        for (let sent = 0; sent < total; sent += total / 8) {
          req.write(Buffer.alloc(total / 8, 1));
          await sleep(100);
        }
        req.end(frame.tail);
      })();
    });
    expect(first).toEqual({ status: 413, connection: 'close' });
    const second = await new Promise<number | string>((resolve) => {
      request(
        `${open.url}/v1/me`,
        { agent, headers: { authorization: `Bearer ${alice.accessToken}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      )
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
        .end();
    });
    expect(second).toBe(200);
    agent.destroy();
  });

  it('a refusal after the whole body was read keeps the connection', async () => {
    const { answers } = await rawExchange(
      open.url,
      `POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n`,
      Buffer.from('{}'),
      { halfClose: false, answers: 1 },
    );
    expect(answers[0]?.status).toBe(422);
    expect(answers[0]?.headers.connection).toBe('keep-alive');
  });
});

describe('If-Range on GET /v1/documents/{id}/content', () => {
  it('a matching strong ETag gets the range (206); another, a weak one or a date gets everything (200)', async () => {
    const bytes = Buffer.from('0123456789abcdefghij');
    const created = await upload(open, alice.accessToken, { bytes, type: 'application/octet-stream' });
    const id = created.body!.document.id as string;
    const get = (headers: Record<string, string>) =>
      fetch(`${open.url}/v1/documents/${id}/content`, {
        headers: { authorization: `Bearer ${alice.accessToken}`, range: 'bytes=0-3', ...headers },
      });
    const etag = (await get({})).headers.get('etag')!;
    const matching = await get({ 'if-range': etag });
    expect([matching.status, await matching.text()]).toEqual([206, '0123']);
    for (const other of ['"stale"', `W/${etag}`, 'Wed, 21 Oct 2015 07:28:00 GMT']) {
      const response = await get({ 'if-range': other });
      expect([response.status, await response.text()], other).toEqual([200, bytes.toString()]);
    }
  });
});
