// Issue 10 #8: a password-reset request answers in the same time whether or not the account exists.
// The relay here is slow on purpose (150 ms per mail, like a remote SMTP server): any work done before
// the answer for known accounts only shows up as a large difference of medians.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, uniqueEmail } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { startTestWorker } from './support/worker.ts';

const RELAY_DELAY_MS = 150;
const ROUNDS = 30;

let smtp: SMTPServer;
let server: TestServer;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const delivered: string[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData: (stream, session, done) => {
      stream.resume();
      stream.on('end', async () => {
        await sleep(RELAY_DELAY_MS);
        delivered.push(...session.envelope.rcptTo.map((r) => r.address));
        done();
      });
    },
  });
  smtp.listen(0, '127.0.0.1');
  await once(smtp.server, 'listening');
  const { port } = smtp.server.address() as AddressInfo;
  server = await startTestServer({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
  // The mail itself goes out from the worker's queue.
  worker = await startTestWorker(server, { SMTP_URL: `smtp://127.0.0.1:${port}` });
});

afterAll(async () => {
  await worker.shutdown('test finished');
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

describe('password reset timing', () => {
  it('the answer comes before any work: 202 at once, the mail after it', async () => {
    const client = api(server);
    const session = await client.signUp('early');
    const response = await client.call('POST', '/v1/auth/password-reset', { body: { email: session.email } });
    expect(response.status).toBe(202);
    expect(delivered).not.toContain(session.email);
    await server.services.passwords.drain(); // queued; the worker delivers it
    await expect.poll(() => delivered, { timeout: 15_000 }).toContain(session.email);
  });

  it(`medians of ${ROUNDS} known and ${ROUNDS} unknown emails are within 5 ms + 50 % of each other`, {
    timeout: 60_000,
  }, async () => {
    const client = api(server);
    const known = (await client.signUp('known')).email;
    const timed = async (email: string) => {
      const started = performance.now();
      const response = await client.call('POST', '/v1/auth/password-reset', { body: { email } });
      const ms = performance.now() - started;
      expect(response.status).toBe(202);
      // The previous request's background work must not slow the next measurement down.
      await server.services.passwords.drain();
      return ms;
    };
    const knownMs: number[] = [];
    const unknownMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      knownMs.push(await timed(known));
      unknownMs.push(await timed(uniqueEmail('ghost')));
    }
    const [k, u] = [median(knownMs), median(unknownMs)];
    expect(k, `known ${k.toFixed(1)} ms vs unknown ${u.toFixed(1)} ms`).toBeLessThan(u * 1.5 + 5);
    expect(u, `unknown ${u.toFixed(1)} ms vs known ${k.toFixed(1)} ms`).toBeLessThan(k * 1.5 + 5);
    // Every known request was queued and the worker delivers each (unknown ones queue nothing).
    await expect.poll(() => delivered.filter((to) => to === known).length, { timeout: 30_000 }).toBe(ROUNDS);
  });
});
