import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIdempotencyKey } from '../src/platform/idempotency.ts';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let owner: Session;

beforeAll(async () => {
  server = await startTestServer();
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 2 });
  owner = await client.signUp('owner');
});

afterAll(() => sql.end());

const create = (session: Session, body: unknown, headers: Record<string, string> = {}) =>
  client.call('POST', '/v1/api-keys', { token: session.accessToken, body, headers });

const keyRows = (userEmail: string) =>
  sql`select k.* from api_keys k join users u on u.id = k.user_id where u.email = ${userEmail} order by k.created_at`;

describe('API keys', () => {
  it('create shows the secret once; list never does; the key authenticates', async () => {
    const created = await create(owner, { name: 'CI uploader' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.body).toEqual({
      id: expect.stringMatching(/^key_[0-9a-z]{26}$/),
      name: 'CI uploader',
      prefix: expect.stringMatching(/^sk_[A-Za-z0-9_-]{12}$/),
      key: expect.stringMatching(/^sk_[A-Za-z0-9_-]{55}$/),
      created_at: expect.any(String),
      expires_at: null,
      last_used_at: null,
    });
    const key = created.body!.key as string;
    expect(key.startsWith(created.body!.prefix)).toBe(true);

    const [row] = await keyRows(owner.email);
    expect(row?.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(key);

    const listed = await client.call('GET', '/v1/api-keys', { token: owner.accessToken });
    expect(listed.body?.data).toHaveLength(1);
    expect(listed.text).not.toContain(key);

    const me = await client.call('GET', '/v1/me', { token: key });
    expect(me.status).toBe(200);
    expect(me.body?.email).toBe(owner.email);
  });

  it('API keys cannot manage API keys or the password (403), only sessions can', async () => {
    const { body } = await create(owner, { name: 'limited' });
    expect((await client.call('GET', '/v1/api-keys', { token: body!.key })).status).toBe(403);
    expect(
      (await client.call('POST', '/v1/api-keys', { token: body!.key, body: { name: 'x' } })).status,
    ).toBe(403);
  });

  it('revocation is immediate; another account’s key is 404; an unknown id 404', async () => {
    const { body } = await create(owner, { name: 'short-lived' });
    expect((await client.call('GET', '/v1/me', { token: body!.key })).status).toBe(200);
    const stranger = await client.signUp('stranger');
    expect(
      (await client.call('DELETE', `/v1/api-keys/${body!.id}`, { token: stranger.accessToken })).status,
    ).toBe(404);
    expect(
      (await client.call('DELETE', `/v1/api-keys/${body!.id}`, { token: owner.accessToken })).status,
    ).toBe(204);
    const refused = await client.call('GET', '/v1/me', { token: body!.key });
    expect(refused.status).toBe(401);
    expect(refused.body?.code).toBe('unauthenticated');
    expect(
      (await client.call('DELETE', `/v1/api-keys/${body!.id}`, { token: owner.accessToken })).status,
    ).toBe(404);
    expect((await client.call('DELETE', '/v1/api-keys/not-an-id', { token: owner.accessToken })).status).toBe(
      422,
    );
  });

  it('an expired key is refused; expires_at must be in the future', async () => {
    const past = await create(owner, { name: 'old', expires_at: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(422);
    const { body } = await create(owner, {
      name: 'soon',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    expect((await client.call('GET', '/v1/me', { token: body!.key })).status).toBe(200);
    await sql`update api_keys set expires_at = now() - interval '1 second' where prefix = ${body!.prefix.slice(3)}`;
    expect((await client.call('GET', '/v1/me', { token: body!.key })).status).toBe(401);
  });

  it('a tampered key with a valid prefix is refused', async () => {
    const { body } = await create(owner, { name: 'tamper' });
    const key = body!.key as string;
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect((await client.call('GET', '/v1/me', { token: tampered })).status).toBe(401);
  });
});

describe('Idempotency-Key', () => {
  it('parses the quoted (draft) and bare forms and rejects malformed keys', () => {
    expect(parseIdempotencyKey('"abc-123"')).toBe('abc-123');
    expect(parseIdempotencyKey('"with \\"quote\\""')).toBe('with "quote"');
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    for (const bad of ['', '""', 'has space', '"unterminated', 'x'.repeat(256), 'ünïcode']) {
      expect(parseIdempotencyKey(bad), bad).toBeUndefined();
    }
  });

  it('same key + same request → one execution, the stored response replayed', async () => {
    const session = await client.signUp();
    const first = await create(session, { name: 'idem' }, { 'idempotency-key': '"create-key-1"' });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const replay = await create(session, { name: 'idem' }, { 'idempotency-key': 'create-key-1' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('content-type')).toBe('application/json');
    // The secret is never stored: the replay is the same body without `key` (API.md).
    const { key, ...withoutKey } = first.body!;
    expect(key).toMatch(/^sk_/);
    expect(replay.body).toEqual(withoutKey);
    expect(await keyRows(session.email)).toHaveLength(1);
    const [record] = await sql`select response_body from idempotency_keys where key = 'create-key-1'`;
    expect(record!.response_body).not.toContain(key);
    expect(record!.response_body).not.toContain(key.slice(15));
  });

  it('same key + another request → 422 idempotency_key_reused', async () => {
    const session = await client.signUp();
    expect((await create(session, { name: 'one' }, { 'idempotency-key': 'k-reuse' })).status).toBe(201);
    const other = await create(session, { name: 'two' }, { 'idempotency-key': 'k-reuse' });
    expect(other.status).toBe(422);
    expect(other.body?.code).toBe('idempotency_key_reused');
    expect(await keyRows(session.email)).toHaveLength(1);
  });

  it('a record past its 24 h retention is claimed afresh: the key works for a new request', async () => {
    const session = await client.signUp();
    const first = await create(session, { name: 'old' }, { 'idempotency-key': 'aged' });
    expect(first.status).toBe(201);
    // Still within retention: another request with the key is a reuse.
    expect((await create(session, { name: 'new' }, { 'idempotency-key': 'aged' })).status).toBe(422);
    await sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'aged'`;
    const again = await create(session, { name: 'new' }, { 'idempotency-key': 'aged' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.body!.id).not.toBe(first.body!.id);
    const [row] = await sql`select response_status, created_at > now() - interval '1 minute' as fresh
      from idempotency_keys where key = 'aged'`;
    expect(row).toEqual({ response_status: 201, fresh: true });
  });

  it('keys are per principal: another account may use the same key', async () => {
    const [a, b] = [await client.signUp(), await client.signUp()];
    expect((await create(a, { name: 'x' }, { 'idempotency-key': 'shared' })).status).toBe(201);
    const other = await create(b, { name: 'x' }, { 'idempotency-key': 'shared' });
    expect(other.status).toBe(201);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
  });

  it('two concurrent requests with one key: exactly one executes, the other gets 409 or the replay', async () => {
    const session = await client.signUp();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => create(session, { name: 'race' }, { 'idempotency-key': 'race-1' })),
    );
    const executed = results.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    expect(executed).toHaveLength(1);
    for (const result of results) {
      expect([201, 409]).toContain(result.status);
      if (result.status === 409) {
        expect(result.body?.code).toBe('idempotency_in_progress');
        expect(result.headers.get('retry-after')).toBe('1');
      } else {
        expect(result.body?.id).toBe(executed[0]?.body?.id);
      }
    }
    expect(await keyRows(session.email)).toHaveLength(1);
  });

  it('a failed request (422) does not burn the key; a malformed key is 400', async () => {
    const session = await client.signUp();
    expect((await create(session, { name: '' }, { 'idempotency-key': 'fix-me' })).status).toBe(422);
    expect((await create(session, { name: 'fixed' }, { 'idempotency-key': 'fix-me' })).status).toBe(201);
    const malformed = await create(session, { name: 'x' }, { 'idempotency-key': '"unterminated' });
    expect(malformed.status).toBe(400);
    expect(malformed.body?.code).toBe('bad_request');
  });
});
