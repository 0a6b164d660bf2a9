// Issue 10 #6: one account could hold the whole in-flight budget with uploads that trickle their bodies,
// and nothing cut a body that stalled. Now: `uploads_in_flight` (4 per account, shared by every
// instance) and BODY_IDLE_TIMEOUT_MS.
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { rawExchange } from './support/raw-http.ts';
import { bucketObjects, multipartFrame, randomFile, streamingUpload, upload } from './support/uploads.ts';

let server: TestServer;
let sibling: TestServer;
let sql: postgres.Sql;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const JWT_SIGNING_KEY = JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'limits', alg: 'EdDSA' });
  server = await startTestServer({
    env: { BODY_IDLE_TIMEOUT_MS: '1500', RATE_LIMIT_UPLOADS_IN_FLIGHT: '4', JWT_SIGNING_KEY },
  });
  // A second instance of the same deployment: same database, bucket and signing key.
  sibling = await startTestServer({
    env: {
      BODY_IDLE_TIMEOUT_MS: '1500',
      RATE_LIMIT_UPLOADS_IN_FLIGHT: '4',
      JWT_SIGNING_KEY,
      DATABASE_URL: server.config.database.url!,
      S3_BUCKET: server.config.s3.bucket,
    },
  });
  sql = postgres(server.config.database.url!, { max: 2 });
});

afterAll(() => sql.end());

/** An upload that sends its head and a little of the file, then a byte every 500 ms until cancelled. */
function trickle(target: TestServer, session: Session) {
  const frame = multipartFrame('slow.pdf', 'application/pdf');
  const content = Buffer.alloc(100_000, 0x25);
  const length = frame.head.length + content.length + frame.tail.length;
  const { req, response } = streamingUpload(target, session.accessToken, frame, length);
  req.write(Buffer.concat([frame.head, content.subarray(0, 1000)]));
  // Keeps the body from counting as idle while it holds its slot.
  const keepAlive = setInterval(() => req.write(content.subarray(1000, 1001)), 500);
  return {
    response,
    cancel: () => {
      clearInterval(keepAlive);
      req.destroy();
    },
  };
}

describe('uploads_in_flight', () => {
  it('4 running uploads (over two instances) hold the slots: the 5th is 429 with the headers; another account still uploads', async () => {
    const client = api(server);
    const [alice, bob] = [await client.signUp('alice'), await client.signUp('bob')];
    const running = [
      trickle(server, alice),
      trickle(sibling, alice),
      trickle(server, alice),
      trickle(sibling, alice),
    ];
    try {
      await sleep(500); // every one of them is past its slot claim
      for (const target of [server, sibling]) {
        const fifth = await upload(target, alice.accessToken, { bytes: randomFile(1000) });
        expect(fifth.status).toBe(429);
        expect(fifth.body).toMatchObject({ code: 'rate_limited', status: 429 });
        expect(fifth.body!.detail).toMatch(/uploads_in_flight/);
        expect(fifth.headers.get('retry-after')).toBe('5');
        expect(fifth.headers.get('ratelimit-policy')).toContain('"uploads_in_flight";q=4');
        expect(fifth.headers.get('ratelimit')).toContain('"uploads_in_flight";r=0;t=5');
        expect(fifth.headers.get('x-ratelimit-limit')).toBe('4');
        expect(fifth.headers.get('x-ratelimit-remaining')).toBe('0');
      }
      const other = await upload(server, bob.accessToken, { bytes: randomFile(1000) });
      expect(other.status).toBe(201);
    } finally {
      for (const upload of running) upload.cancel();
    }
    // The slots come back as the uploads end (here: cancelled by their clients).
    let after = 0;
    for (let i = 0; i < 40 && after !== 201; i++) {
      await sleep(100);
      after = (await upload(server, alice.accessToken, { bytes: randomFile(1000) })).status;
    }
    expect(after).toBe(201);
    expect(await sql`select key from rate_limits where key like 'uploads_in_flight:%'`).toEqual([]);
  });

  it('exact under a burst: 12 parallel slow uploads of one account, exactly 4 are let in', async () => {
    const alice = await api(server).signUp('burst');
    const running = Array.from({ length: 12 }, (_, i) => trickle(i % 2 ? server : sibling, alice));
    try {
      const refused = await Promise.all(
        running.map((upload) =>
          Promise.race([upload.response.then((r) => r.status), sleep(1500).then(() => 0)]),
        ),
      );
      expect(refused.filter((status) => status === 429)).toHaveLength(8);
      expect(refused.filter((status) => status === 0)).toHaveLength(4);
    } finally {
      for (const upload of running) upload.cancel();
    }
  });

  it('a slot of a process that died lapses with its lease instead of staying taken', async () => {
    const alice = await api(server).signUp('crashed');
    const [user] = await sql`select id from users where email = ${alice.email}`;
    // What a crashed holder leaves: four slot rows whose leases are no longer renewed (here: expired).
    for (let n = 0; n < 4; n++) {
      await sql`insert into rate_limits (key, points, expire) values (${`uploads_in_flight:${user!.id}:${n}`}, 7, ${Date.now() - 1})`;
    }
    expect((await upload(server, alice.accessToken, { bytes: randomFile(1000) })).status).toBe(201);
  });
});

describe('a body that stalls', () => {
  it('is cut after BODY_IDLE_TIMEOUT_MS with 408 request_timeout, and leaves nothing', async () => {
    const alice = await api(server).signUp('stall');
    const frame = multipartFrame('stall.pdf', 'application/pdf');
    const { host } = new URL(server.url);
    const started = Date.now();
    const { answers, raw } = await rawExchange(
      server.url,
      `POST /v1/documents HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${alice.accessToken}\r\n` +
        `Content-Type: ${frame.contentType}\r\nContent-Length: 1000000\r\n\r\n`,
      Buffer.concat([frame.head, Buffer.alloc(20_000, 1)]),
      { halfClose: false, timeoutMs: 10_000 },
    );
    const elapsed = Date.now() - started;
    expect(answers, raw).toHaveLength(1);
    expect(answers[0]).toMatchObject({ status: 408, headers: { connection: 'close' } });
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ code: 'request_timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(5000);
    const [user] = await sql`select id from users where email = ${alice.email}`;
    expect(await sql`select status from documents where user_id = ${user!.id}`).toEqual([]);
    expect((await bucketObjects(server)).filter((o) => o.key.includes(user!.id))).toEqual([]);
  });
});
