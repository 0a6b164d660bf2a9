// Issue 10 #11 (auth/validation half): slow headers are cut at HEADERS_TIMEOUT_MS, Node's own 400/408/431
// answers carry the problem body and the security headers, and integer query parameters are strict.
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const HEADERS_TIMEOUT_MS = 1500;

let server: TestServer;
let session: Session;

beforeAll(async () => {
  server = await startTestServer({ env: { HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) } });
  session = await api(server).signUp('edge');
});

/** Writes `chunks` (strings, or pauses in ms) to a raw socket; resolves with everything read and when. */
function rawExchange(chunks: (string | number)[]) {
  const url = new URL(server.url);
  return new Promise<{ raw: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(url.port), url.hostname);
    let raw = '';
    let closed = false;
    socket.on('data', (chunk) => {
      raw += chunk;
    });
    socket.on('close', () => {
      closed = true;
      resolve({ raw, ms: performance.now() - started });
    });
    socket.on('error', reject);
    void (async () => {
      for (const chunk of chunks) {
        if (closed) return;
        if (typeof chunk === 'number') await new Promise((r) => setTimeout(r, chunk));
        else socket.write(chunk);
      }
    })();
  });
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

function expectRawProblem(raw: string, status: number, code: string) {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  const headers = new Map(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => {
        const at = line.indexOf(':');
        return [line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()] as const;
      }),
  );
  expect(headers.get('content-type')).toBe('application/problem+json');
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(headers.get(name), name).toBe(value);
  expect(headers.get('permissions-policy')).toMatch(/camera=\(\)/);
  const requestId = headers.get('x-request-id');
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.parse(body)).toMatchObject({ status, code, request_id: requestId });
}

describe('requests Node answers itself', () => {
  it(`slow headers are cut at HEADERS_TIMEOUT_MS (${HEADERS_TIMEOUT_MS} ms), not at Node's 30 s sweep`, async () => {
    // A slowloris: a header line every 200 ms, never the blank line.
    const trickle = Array.from({ length: 60 }, (_, i) => [200, `X-Slow-${i}: 1\r\n`]).flat();
    const { raw, ms } = await rawExchange(['GET /livez HTTP/1.1\r\nHost: x\r\n', ...trickle]);
    expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS + 1200);
    expectRawProblem(raw, 408, 'request_timeout');
  }, 15_000);

  it('a malformed request → 400 problem+json with the security headers', async () => {
    const { raw } = await rawExchange(['GET /livez HTTP/1.1\r\nHost: x\r\n folded: injected\r\n\r\n']);
    expectRawProblem(raw, 400, 'bad_request');
  });

  it('headers larger than Node accepts → 431 problem+json with the security headers', async () => {
    const { raw } = await rawExchange([
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]);
    expectRawProblem(raw, 431, 'headers_too_large');
  });
});

describe('integer query parameters are strict decimal', () => {
  const list = (limit: string) =>
    fetch(`${server.url}/v1/documents?limit=${encodeURIComponent(limit)}`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });

  it.each(['0x10', '1e1', '+5', ' 5', '5 ', '', '007', '1.0', '-1', '0', '101', '9007199254740993'])(
    'limit=%j → 422',
    async (limit) => {
      const response = await list(limit);
      expect(response.status).toBe(422);
      const body = (await response.json()) as { errors: object[] };
      expect(body.errors.length).toBeGreaterThan(0);
      for (const error of body.errors) expect(error).toMatchObject({ location: 'query', path: 'limit' });
    },
  );

  it.each(['1', '16', '100'])('limit=%s → 200', async (limit) => {
    expect((await list(limit)).status).toBe(200);
  });
});
