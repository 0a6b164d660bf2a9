// Issue 10 #3 and #4: refresh rotation is atomic (a session never forks), and a password reset or change
// spends every outstanding reset token of the account; concurrent confirmations have one winner.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { startTestWorker } from './support/worker.ts';

let server: TestServer;
let client: ReturnType<typeof api>;
let sql: postgres.Sql;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const dataDir = `/tmp/stowage-rotation-${process.pid}`;

beforeAll(async () => {
  server = await startTestServer({ env: { DATA_DIR: dataDir } });
  client = api(server);
  sql = postgres(server.config.database.url!, { max: 4, onnotice: () => {} });
  // Reset mail is sent by the worker, into DATA_DIR/outbox/ here.
  worker = await startTestWorker(server, { DATA_DIR: dataDir });
});

afterAll(async () => {
  await worker.shutdown('test finished');
  await sql.end();
  await rm(dataDir, { recursive: true, force: true });
});

const refresh = (cookie: string) => client.call('POST', '/v1/auth/refresh', { headers: { cookie } });

const tokensOf = (session: Session) => sql`
  select t.used_at is null as unused, s.revoked_at is null as live
  from refresh_tokens t join sessions s on s.id = t.session_id
  where s.user_id = (select id from users where email = ${session.email})
  order by t.created_at`;

describe('refresh rotation under concurrency', () => {
  it('ten refreshes with one cookie at once: one rotation, all ten get the same successor', async () => {
    const session = await client.signUp('race');
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(session.refreshCookie)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const cookies = new Set(answers.map((a) => client.refreshCookieOf(a.headers)));
    expect(cookies.size).toBe(1);
    const [successor] = [...cookies];
    expect(successor).not.toBe(session.refreshCookie);
    // Exactly one live successor: the original is spent, the session is not forked or revoked.
    expect(await tokensOf(session)).toEqual([
      { unused: false, live: true },
      { unused: true, live: true },
    ]);
    // Every access token issued works; the successor rotates normally.
    for (const answer of answers) {
      expect((await client.call('GET', '/v1/me', { token: answer.body!.access_token })).status).toBe(200);
    }
    const next = await refresh(successor!);
    expect(next.status).toBe(200);
    // Its successor used, the original is now a replay: the family ends.
    const replay = await refresh(session.refreshCookie);
    expect([replay.status, replay.body?.code]).toEqual([401, 'refresh_token_reused']);
    expect((await refresh(client.refreshCookieOf(next.headers)!)).status).toBe(401);
    expect((await tokensOf(session)).every((row) => !row.live)).toBe(true);
  });

  it('a retry within the grace period gets the same unused successor; after it, reuse revokes the session', async () => {
    const session = await client.signUp('retry');
    const first = await refresh(session.refreshCookie);
    const retry = await refresh(session.refreshCookie);
    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(client.refreshCookieOf(retry.headers)).toBe(client.refreshCookieOf(first.headers));
    await sql`update refresh_tokens set used_at = used_at - interval '31 seconds', created_at = created_at - interval '31 seconds'
              where session_id in (select id from sessions where user_id = (select id from users where email = ${session.email}))`;
    const late = await refresh(session.refreshCookie);
    expect([late.status, late.body?.code]).toEqual([401, 'refresh_token_reused']);
    const [row] =
      await sql`select revoked_reason from sessions where user_id = (select id from users where email = ${session.email})`;
    expect(row?.revoked_reason).toBe('refresh_token_reused');
    expect((await refresh(client.refreshCookieOf(first.headers)!)).status).toBe(401);
  });
});

describe('refresh rotation without a grace period (REFRESH_REUSE_GRACE_S=0)', () => {
  it('ten at once: exactly one wins, the nine others are reuse and end the session', async () => {
    const strict = await startTestServer({ env: { REFRESH_REUSE_GRACE_S: '0' } });
    const strictClient = api(strict);
    const strictSql = postgres(strict.config.database.url!, { max: 2, onnotice: () => {} });
    try {
      const session = await strictClient.signUp('strict');
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          strictClient.call('POST', '/v1/auth/refresh', { headers: { cookie: session.refreshCookie } }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([200, ...Array(9).fill(401)]);
      expect(answers.filter((a) => a.status === 401).map((a) => a.body?.code)).toEqual(
        Array(9).fill('refresh_token_reused'),
      );
      const rows =
        await strictSql`select count(*)::int as tokens, bool_and(s.revoked_at is not null) as revoked
        from refresh_tokens t join sessions s on s.id = t.session_id
        where s.user_id = (select id from users where email = ${session.email})`;
      // One rotation only (original + one successor), and the family revoked.
      expect(rows[0]).toEqual({ tokens: 2, revoked: true });
    } finally {
      await strictSql.end();
    }
  });
});

describe('password reset tokens', () => {
  const outbox = () => join(dataDir, 'outbox');
  /** Requests a reset and returns the mailed token (the work runs after the 202). */
  const requestToken = async (email: string) => {
    const before = new Set(await readdir(outbox()).catch(() => []));
    expect((await client.call('POST', '/v1/auth/password-reset', { body: { email } })).status).toBe(202);
    await server.services.passwords.drain(); // the work runs after the 202; the worker mails it
    for (
      const deadline = Date.now() + 10_000;
      Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 100))
    ) {
      for (const file of await readdir(outbox()).catch(() => [])) {
        if (before.has(file)) continue;
        const mail = JSON.parse(await readFile(join(outbox(), file), 'utf8'));
        if (mail.to === email) return /\n\n([A-Za-z0-9_-]{43})\n\n/.exec(mail.text)![1]!;
      }
    }
    throw new Error(`no mail for ${email}`);
  };
  const confirm = (token: string, password: string) =>
    client.call('POST', '/v1/auth/password-reset/confirm', { body: { token, password } });

  it('a successful reset spends every other outstanding token of the account', async () => {
    const session = await client.signUp('reset');
    const older = await requestToken(session.email);
    const newer = await requestToken(session.email);
    expect((await confirm(newer, 'first new passphrase')).status).toBe(204);
    const stale = await confirm(older, 'attacker passphrase');
    expect(stale.status).toBe(422);
    expect(stale.body?.errors).toEqual([
      { location: 'body', path: 'token', message: 'Invalid, expired or already used' },
    ]);
    expect((await client.login(session.email, 'first new passphrase')).user.email).toBe(session.email);
  });

  it('a password change spends every outstanding reset token', async () => {
    const session = await client.signUp('change');
    const token = await requestToken(session.email);
    const changed = await client.call('POST', '/v1/me/password', {
      token: session.accessToken,
      body: { current_password: PASSWORD, password: 'changed passphrase!' },
    });
    expect(changed.status).toBe(204);
    expect((await confirm(token, 'attacker passphrase')).status).toBe(422);
    const [row] = await sql`select count(*)::int as live from password_reset_tokens
      where used_at is null and user_id = (select id from users where email = ${session.email})`;
    expect(row!.live).toBe(0);
  });

  it('one token confirmed five times at once: exactly one 204, the rest 422, never a 500', async () => {
    const session = await client.signUp('twice');
    const token = await requestToken(session.email);
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => confirm(token, `concurrent passphrase ${i}`)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([204, 422, 422, 422, 422]);
  });

  it('two different tokens confirmed at once: exactly one wins', async () => {
    const session = await client.signUp('pair');
    const tokens = [await requestToken(session.email), await requestToken(session.email)];
    const answers = await Promise.all(
      [...tokens, ...tokens].map((token, i) => confirm(token, `pair passphrase ${i}`)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([204, 422, 422, 422]);
  });
});
