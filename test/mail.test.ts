import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

type Received = { from: string; to: string[]; data: string };

let smtp: SMTPServer;
const inbox: Received[] = [];
let server: TestServer;

beforeAll(async () => {
  // A real SMTP peer on loopback, with authentication, as a production relay would be.
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
  smtp.listen(0, '127.0.0.1');
  await once(smtp.server, 'listening');
  const { port } = smtp.server.address() as AddressInfo;
  server = await startTestServer({
    env: {
      SMTP_URL: `smtp://mailer:relay-secret@127.0.0.1:${port}`,
      MAIL_FROM: 'Stowage <no-reply@stowage.test>',
    },
  });
});

afterAll(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

describe('mail over SMTP', () => {
  it('a password reset is delivered to the relay with the token, and the token works', async () => {
    const client = api(server);
    const session = await client.signUp();
    expect(
      (await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } })).status,
    ).toBe(202);
    await server.services.passwords.drain(); // the reset work runs after the 202
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
});
