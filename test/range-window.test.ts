// The first byte of a document (`Range: bytes=0-0`): the answer carries exactly that byte. s3rver ignores
// this range and returns the whole object; passed on as is, 16 bytes followed a `Content-Length: 1` and
// the client's next response on the connection failed to parse (found by the fuzzer).
import { Agent, request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { upload } from './support/uploads.ts';

let server: TestServer;
let session: Session;
let id: string;

beforeAll(async () => {
  server = await startTestServer();
  session = await api(server).signUp('ranges');
  const created = await upload(server, session.accessToken, {
    bytes: new TextEncoder().encode('0123456789abcdef'),
    name: 'digits.txt',
    type: 'text/plain',
  });
  id = created.body!.document.id;
});

function get(agent: Agent, path: string, headers: Record<string, string>) {
  const url = new URL(server.url);
  return new Promise<{ status: number; length?: string; body: string }>((resolve, reject) => {
    request(
      {
        host: url.hostname,
        port: url.port,
        path,
        agent,
        headers: { authorization: `Bearer ${session.accessToken}`, ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode!, length: res.headers['content-length'], body }),
        );
      },
    )
      .on('error', reject)
      .end();
  });
}

describe('ranges at the edges of a document', () => {
  it('bytes=0-0, 15-15 and 0-15 send exactly the announced bytes; the connection stays usable', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [range, expected] of [
        ['bytes=0-0', '0'],
        ['bytes=15-15', 'f'],
        ['bytes=0-15', '0123456789abcdef'],
        ['bytes=-1', 'f'],
      ] as const) {
        const answer = await get(agent, `/v1/documents/${id}/content`, { range });
        expect([answer.status, answer.length, answer.body], range).toEqual([
          206,
          String(expected.length),
          expected,
        ]);
        expect((await get(agent, '/v1/me', {})).status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });
});
