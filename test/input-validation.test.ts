// Issue 10 #5: NUL characters and unpaired surrogates in any string input are 422 everywhere (never a
// 500), decoded cursors are validated strictly, and no log line carries a query's parameter values.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { users } from '../src/modules/users/users.tables.ts';
import { api, type Json, PASSWORD, type Session, uniqueEmail } from './support/api.ts';
import { captureLogs, startTestServer, type TestServer } from './support/harness.ts';
import { upload } from './support/uploads.ts';

const ADMIN = { email: 'root-validation@example.com', password: 'admin passphrase 123' };
const NUL = 'a\u0000b';
const LONE = 'a\ud800b'; // JSON.stringify writes it as the escape "\ud800", as a client would send it

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let owner: Session;
let admin: Session;
let documentId: string;

beforeAll(async () => {
  server = await startTestServer({
    env: { BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password },
  });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2, onnotice: () => {} });
  owner = await client.signUp('strings');
  admin = await client.login(ADMIN.email, ADMIN.password);
  const uploaded = await upload(server, owner.accessToken, { bytes: new Uint8Array([1, 2, 3]) });
  expect(uploaded.status).toBe(201);
  documentId = uploaded.body!.document.id;
});

afterAll(() => sql.end());

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function expect422(response: { status: number; body?: Json; text: string }, location: string, path: string) {
  expect(response.status, response.text).toBe(422);
  expect(response.body?.code).toBe('validation_failed');
  expect(response.body?.errors).toContainEqual(expect.objectContaining({ location, path }));
}

describe('NUL and unpaired surrogates are 422 everywhere', () => {
  for (const [label, bad] of [
    ['NUL', NUL],
    ['unpaired surrogate', LONE],
  ] as const) {
    describe(label, () => {
      it('JSON bodies: register name, login password, PATCH /v1/me, API key name', async () => {
        expect422(
          await client.call('POST', '/v1/auth/register', {
            body: { email: uniqueEmail(), password: PASSWORD, name: bad },
          }),
          'body',
          'name',
        );
        expect422(
          await client.call('POST', '/v1/auth/login', { body: { email: owner.email, password: bad } }),
          'body',
          'password',
        );
        expect422(
          await client.call('PATCH', '/v1/me', { token: owner.accessToken, body: { name: bad } }),
          'body',
          'name',
        );
        expect422(
          await client.call('POST', '/v1/api-keys', { token: owner.accessToken, body: { name: bad } }),
          'body',
          'name',
        );
      });

      it('document PATCH: name, metadata values and metadata keys', async () => {
        const patch = (body: Json) =>
          client.call('PATCH', `/v1/documents/${documentId}`, { token: owner.accessToken, body });
        expect422(await patch({ name: bad }), 'body', 'name');
        expect422(await patch({ metadata: { project: bad } }), 'body', 'metadata.project');
        expect422(await patch({ metadata: { nested: [{ deep: bad }] } }), 'body', 'metadata.nested.0.deep');
        const keyed = await patch({ metadata: { [bad]: 'x' } });
        expect(keyed.status, keyed.text).toBe(422);
      });

      it('multipart metadata values and keys', async () => {
        for (const metadata of [JSON.stringify({ project: bad }), JSON.stringify({ [bad]: 1 })]) {
          const response = await upload(
            server,
            owner.accessToken,
            { bytes: new Uint8Array([4]) },
            { metadata },
          );
          expect(response.status, JSON.stringify(response.body)).toBe(422);
          expect(response.body?.errors[0].message).toMatch(/NUL|surrogate/);
        }
      });

      it('query parameters: q, content_type, admin q', async () => {
        if (bad === LONE) return; // a URL carries bytes: see the invalid UTF-8 test below
        const query = encodeURIComponent(bad);
        for (const path of [`/v1/documents?q=${query}`, `/v1/documents?content_type=${query}`]) {
          expect422(
            await client.call('GET', path, { token: owner.accessToken }),
            'query',
            path.split(/[?=]/)[1]!,
          );
        }
        expect422(
          await client.call('GET', `/v1/admin/users?q=${query}`, { token: admin.accessToken }),
          'query',
          'q',
        );
      });

      it('decoded cursors', async () => {
        const cursor = cursorOf({ o: 'name.asc', n: bad, i: randomUUID() });
        expect422(
          await client.call('GET', `/v1/documents?order=name.asc&cursor=${cursor}`, {
            token: owner.accessToken,
          }),
          'query',
          'cursor',
        );
      });
    });
  }

  it('query parameters with invalid UTF-8 (an encoded surrogate) are never a 500', async () => {
    for (const path of ['/v1/documents?q=a%ED%A0%80b', '/v1/documents?q=%C0%80', '/v1/documents?q=%FF']) {
      const response = await client.call('GET', path, { token: owner.accessToken });
      expect([200, 422], `${path}: ${response.text}`).toContain(response.status);
    }
  });

  it('headers: a NUL is refused by Node (400 problem), bytes that are not ASCII by the Idempotency-Key rule (400, API.md)', async () => {
    const url = new URL(server.url);
    const send = (header: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname);
        let data = '';
        socket.on('data', (chunk) => {
          data += chunk;
        });
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        const body = '{"name":"k"}';
        socket.write(
          Buffer.concat([
            Buffer.from(
              `POST /v1/api-keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${owner.accessToken}\r\n` +
                `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\nIdempotency-Key: `,
            ),
            header,
            Buffer.from(`\r\n\r\n${body}`),
          ]),
        );
      });
    for (const header of [Buffer.from('a\u0000b'), Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])]) {
      const raw = await send(header);
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toMatch(/"code":"bad_request"/);
    }
  });

  it('an If-Match version beyond the integer column is 412, not a 500', async () => {
    for (const tag of ['"v99999999999999999999"', '"v2147483648"', '"v1e3"']) {
      const response = await client.call('PATCH', `/v1/documents/${documentId}`, {
        token: owner.accessToken,
        body: { name: 'renamed' },
        headers: { 'if-match': tag },
      });
      expect(response.status, `${tag}: ${response.text}`).toBe(412);
    }
  });

  it('the multipart name field with a NUL', async () => {
    const response = await upload(server, owner.accessToken, { bytes: new Uint8Array([5]) }, { name: NUL });
    expect(response.status).toBe(422);
  });

  it('cursors are as strict as any input: missing or extra members, wrong types, not base64url', async () => {
    const uuid = randomUUID();
    const bad = [
      cursorOf({ o: 'created_at.desc', i: uuid }), // no time
      cursorOf({ o: 'name.asc', i: uuid }), // no name
      cursorOf({ o: 'name.asc', n: 'x'.repeat(300), i: uuid }),
      cursorOf({ o: 'created_at.desc', c: '2026-01-01T00:00:00Z', i: uuid, extra: 1 }),
      cursorOf({ o: 'created_at.desc', c: 'yesterday', i: uuid }),
      cursorOf([1, 2]),
      'not base64!',
      'eyJvIjoibmFtZS5hc2MifQ==',
    ];
    for (const cursor of bad) {
      const order = cursor.includes('bmFtZS') ? 'name.asc' : 'created_at.desc';
      const response = await client.call(
        'GET',
        `/v1/documents?order=${order}&cursor=${encodeURIComponent(cursor)}`,
        { token: owner.accessToken },
      );
      expect(response.status, `${cursor}: ${response.text}`).toBe(422);
      expect(response.body?.errors[0].path).toBe('cursor');
    }
    for (const cursor of [
      cursorOf({ c: '2026-01-01T00:00:00Z', i: 'nope' }),
      cursorOf({ s: -1 }),
      cursorOf({ s: 1.5 }),
    ]) {
      for (const path of ['/v1/admin/users', '/v1/admin/audit-events']) {
        const response = await client.call('GET', `${path}?cursor=${cursor}`, { token: admin.accessToken });
        expect(response.status, `${path} ${cursor}: ${response.text}`).toBe(422);
      }
    }
  });

  it('every operation of the OpenAPI document: a NUL in each query parameter and JSON body field is never a 500', async () => {
    const document = (await client.call('GET', '/openapi.json')).body!;
    let probes = 0;
    for (const [template, operations] of Object.entries(document.paths as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(operations)) {
        const path = template.replace(/\{[^}]+\}/g, (name) =>
          name === '{id}' && template.startsWith('/v1/documents') ? documentId : NUL,
        );
        const token = template.startsWith('/v1/admin') ? admin.accessToken : owner.accessToken;
        const queryNames = (operation.parameters ?? [])
          .filter((p: Json) => p.in === 'query')
          .map((p: Json) => p.name as string);
        for (const name of queryNames) {
          const response = await client.call(
            method.toUpperCase(),
            `${path}?${name}=${encodeURIComponent(NUL)}`,
            {
              token,
            },
          );
          expect(response.status, `${method} ${template}?${name}`).not.toBe(500);
          probes++;
        }
        const schema = operation.requestBody?.content?.['application/json']?.schema;
        const properties = Object.keys(
          (schema?.$ref ? document.components.schemas[schema.$ref.split('/').pop()] : schema)?.properties ??
            {},
        );
        for (const name of properties) {
          const response = await client.call(method.toUpperCase(), path, { token, body: { [name]: NUL } });
          expect(response.status, `${method} ${template} body.${name}`).toBeLessThan(500);
          probes++;
        }
      }
    }
    expect(probes).toBeGreaterThan(20);
  });
});

describe('no log line carries SQL parameter values', () => {
  it('a failed query (unique violation, bad cast) logs its SQL text and SQLSTATE, never its values', async () => {
    const { logger, raw } = captureLogs();
    const database = createDatabase({
      url: server.config.database.url!,
      poolMax: 1,
      connectTimeoutS: 5,
      idleTimeoutS: 5,
      maxLifetimeS: 0,
      statementTimeoutMs: 5000,
    });
    const secretHash = `$argon2id$v=19$m=19456,t=2,p=1$${randomUUID()}`;
    const failures: unknown[] = [];
    try {
      await database.db.insert(users).values({
        id: randomUUID(),
        email: owner.email,
        passwordHash: secretHash,
        quotaBytes: 1,
      });
    } catch (error) {
      failures.push(error);
    }
    const marker = `secret-${randomUUID()}`;
    try {
      await database.db.select().from(users).where(eq(users.id, marker));
    } catch (error) {
      failures.push(error);
    }
    await database.close();
    expect(failures).toHaveLength(2);
    for (const error of failures) logger.error({ err: error }, 'unhandled error');
    const text = raw.join('\n');
    expect(raw).toHaveLength(2);
    for (const value of [secretHash, owner.email, marker, '$argon2id$']) expect(text).not.toContain(value);
    const [duplicate, cast] = raw.map((line) => JSON.parse(line).err);
    expect(duplicate.message).toMatch(/^Failed query: insert into "users"/);
    expect(duplicate.cause).toMatchObject({ code: '23505', constraint_name: 'users_email_unique' });
    expect(duplicate.stack).toMatch(/^DrizzleQueryError: Failed query: insert into "users"[^\n]*\n\s+at /);
    expect(cast.cause.code).toBe('22P02');
    expect(cast.cause.message).toMatch(/invalid input syntax for type uuid: "\[redacted\]"/);
  });

  it('nothing logged by this file’s server carries a parameter list, a hash or an email of these tests', () => {
    const text = server.logs.raw.join('\n');
    expect(text.length).toBeGreaterThan(500);
    expect(text).not.toMatch(/\nparams:|\\nparams:|"parameters"|\$argon2id\$/);
    expect(text).not.toContain(owner.email.split('@')[0]);
  });
});
