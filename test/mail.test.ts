import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { startTestWorker } from './support/worker.ts';

type Received = { from: string; to: string[]; data: string };

let smtp: SMTPServer;
const inbox: Received[] = [];
let server: TestServer;
let port: number;

/** A real SMTP peer on loopback, with authentication, as a production relay would be. */
async function startRelay(onPort = 0): Promise<number> {
  smtp = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth: (auth, _session, done) =>
      auth.username === 'mailer' && auth.password === 'relay-secret'
        ? done(null, { user: 'mailer' })
        : done(new Error('bad auth')),
    onData: (stream, session, done) => {
      let data = '';
      stream.on('data', (chunk) => {
        data += chunk;
      });
      stream.on('end', () => {
        inbox.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
        });
        done();
      });
    },
  });
  smtp.listen(onPort, '127.0.0.1');
  await once(smtp.server, 'listening');
  return (smtp.server.address() as AddressInfo).port;
}

const stopRelay = () => new Promise<void>((resolve) => smtp.close(() => resolve()));

beforeAll(async () => {
  port = await startRelay();
  const env = {
    SMTP_URL: `smtp://mailer:relay-secret@127.0.0.1:${port}`,
    MAIL_FROM: 'Stowage <no-reply@stowage.test>',
    // Retries 1 s, 2 s, 4 s… apart, so the outage test below is short.
    MAIL_RETRY_DELAY_S: '1',
  };
  server = await startTestServer({ env });
  // The API only enqueues; the worker sends.
  await startTestWorker(server, env);
});

afterAll(() => stopRelay());

describe('mail over SMTP', () => {
  it('a password reset is delivered to the relay with the token, and the token works', async () => {
    const client = api(server);
    const session = await client.signUp();
    expect(
      (await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } })).status,
    ).toBe(202);
    await server.services.passwords.drain(); // the reset work runs after the 202
    await expect
      .poll(() => inbox.find((m) => m.to.includes(session.email)), { timeout: 10_000 })
      .toBeTruthy();
    const mail = inbox.find((m) => m.to.includes(session.email));
    expect(mail?.from).toBe('no-reply@stowage.test');
    expect(mail?.data).toMatch(/^Subject: Reset your Stowage password/m);
    expect(mail?.data).toMatch(/^Content-Transfer-Encoding: quoted-printable/m);
    // Quoted-printable soft line breaks may fall inside the token; the token alphabet needs no other decoding.
    const body = mail!.data.replaceAll('=\r\n', '');
    const token = /\r\n\r\n([A-Za-z0-9_-]{43})\r\n/.exec(body)?.[1];
    expect(token).toBeDefined();
    const confirm = await client.call('POST', '/v1/auth/password-reset/confirm', {
      body: { token, password: 'a brand new passphrase' },
    });
    expect(confirm.status).toBe(204);
    expect(server.logs.raw.join('\n')).not.toContain(token!);
  });

  it('with the relay down the API still answers 202 at once; the mail goes out once the relay is back', async () => {
    const client = api(server);
    const session = await client.signUp();
    await stopRelay();
    const started = performance.now();
    const response = await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } });
    const elapsedMs = performance.now() - started;
    expect(response.status).toBe(202);
    // The answer does not depend on SMTP at all: the mail is a job committed with the token.
    expect(elapsedMs).toBeLessThan(1000);
    const sql = postgres(server.config.database.url!, { max: 1 });
    try {
      // The worker tries, fails (connection refused) and schedules a retry; nothing is delivered.
      await expect
        .poll(
          async () =>
            (
              await sql`select state, retry_count from pgboss.job where name = 'mail' and data->>'to' = ${session.email}`
            )[0],
          { timeout: 10_000 },
        )
        .toMatchObject({ state: 'retry', retry_count: expect.any(Number) });
      expect(inbox.find((m) => m.to.includes(session.email))).toBeUndefined();
      await startRelay(port);
      await expect
        .poll(() => inbox.find((m) => m.to.includes(session.email)), { timeout: 20_000 })
        .toBeTruthy();
      const [job] =
        await sql`select state, retry_count from pgboss.job where name = 'mail' and data->>'to' = ${session.email}`;
      expect(job?.state).toBe('completed');
      expect(job?.retry_count).toBeGreaterThanOrEqual(1);
    } finally {
      await sql.end();
    }
  });
});
