// Issue 10 #1: a multipart body that ends before its closing boundary once killed the process (busboy's
// file stream emitted 'Unexpected end of form' with no listener). Every variant must end in a problem
// (when an answer can arrive at all) and leave nothing behind.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { rawExchange, TRUNCATED_KINDS, truncatedUpload } from './support/raw-http.ts';
import { bucketObjects } from './support/uploads.ts';

let server: TestServer;
let sql: postgres.Sql;
let alice: Session;

beforeAll(async () => {
  server = await startTestServer();
  sql = postgres(server.config.database.url!, { max: 2 });
  alice = await api(server).signUp('alice');
});

afterAll(() => sql.end());

async function leftovers() {
  for (let i = 0; ; i++) {
    const rows = await sql`select status from documents`;
    const objects = await bucketObjects(server);
    if ((rows.length === 0 && objects.length === 0) || i === 40) return { rows, objects };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('an upload whose body ends before the closing boundary', () => {
  it.each(TRUNCATED_KINDS)(
    '%s: a 400 problem when an answer can arrive; nothing left behind',
    async (kind) => {
      const { head, body, halfClose } = truncatedUpload(kind, server.url, alice.accessToken);
      const { answers } = await rawExchange(server.url, head, body, {
        halfClose,
        answers: halfClose ? undefined : 1,
      });
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.headers['content-type']).toBe('application/problem+json');
        expect(JSON.parse(answer.body)).toMatchObject({ code: 'bad_request', status: 400 });
      }
      if (!halfClose) {
        // The connection stays open: our own answer arrives, and says what happened.
        expect(answers.length).toBeGreaterThanOrEqual(1);
        expect(JSON.parse(answers[0]!.body).detail).toMatch(/body ended early/);
      }
      expect(await leftovers()).toEqual({ rows: [], objects: [] });
    },
  );

  it('ending early after several S3 parts were sent (multipart upload in progress): 400, nothing left', async () => {
    const { head, body } = truncatedUpload('exact-length', server.url, alice.accessToken, 12 * 1024 * 1024);
    const { answers } = await rawExchange(server.url, head, body, {
      halfClose: false,
      answers: 1,
      timeoutMs: 20_000,
    });
    expect(answers[0]?.status).toBe(400);
    expect(JSON.parse(answers[0]!.body).detail).toMatch(/body ended early/);
    expect(await leftovers()).toEqual({ rows: [], objects: [] });
  });

  it('the server still serves afterwards', async () => {
    const me = await fetch(`${server.url}/v1/me`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    expect(me.status).toBe(200);
  });
});
