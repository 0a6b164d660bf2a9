// Slow and greedy clients next to a normal one: slowloris connections are cut at HEADERS_TIMEOUT_MS,
// stalled upload bodies at BODY_IDLE_TIMEOUT_MS, and meanwhile an ordinary client is served as usual.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { percentile } from './support/faults/load.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const HEADERS_TIMEOUT_MS = 1500;
const BODY_IDLE_TIMEOUT_MS = 1500;
let server: TestServer;
let session: Session;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_TIMEOUT_MS),
    },
  });
  session = await api(server).signUp('slow');
});

/** Opens a connection and reports when (ms after opening) the server closed it, and what it said. */
function watch(socket: Socket) {
  const opened = performance.now();
  let said = '';
  socket.on('data', (chunk) => {
    said += chunk;
  });
  socket.on('error', () => {});
  return new Promise<{ closedAfterMs: number; said: string }>((resolve) =>
    socket.on('close', () => resolve({ closedAfterMs: performance.now() - opened, said })),
  );
}

async function latencies(count: number) {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const response = await fetch(`${server.url}/v1/me`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    times.push(performance.now() - start);
  }
  return times;
}

describe('slow and greedy clients', () => {
  it('slow headers and a stalled body are cut at their timeouts while a normal client keeps its latency', async () => {
    const url = new URL(server.url);
    const baseline = await latencies(30);

    // 20 slowloris connections: a header line every 300 ms, never the blank line that ends them.
    const loris = Array.from({ length: 20 }, () => {
      const socket = connect(Number(url.port), url.hostname);
      const closed = watch(socket);
      socket.write(`GET /v1/me HTTP/1.1\r\nHost: ${url.host}\r\n`);
      const timer = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 300);
      void closed.then(() => clearInterval(timer));
      return closed;
    });
    // 3 uploads of one account that send their first bytes, then nothing.
    const stalled = Array.from({ length: 3 }, () => {
      const socket = connect(Number(url.port), url.hostname);
      const closed = watch(socket);
      const boundary = 'stalledBoundary';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.txt"\r\nContent-Type: text/plain\r\n\r\nfirst bytes`;
      socket.write(
        `POST /v1/documents HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${session.accessToken}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`,
      );
      return closed;
    });

    await sleep(200);
    const during = await latencies(30);
    const [lorisResults, stalledResults] = await Promise.all([Promise.all(loris), Promise.all(stalled)]);

    for (const result of lorisResults) {
      expect(result.closedAfterMs).toBeGreaterThan(HEADERS_TIMEOUT_MS - 100);
      expect(result.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1500);
    }
    for (const result of stalledResults) {
      expect(result.closedAfterMs).toBeLessThan(BODY_IDLE_TIMEOUT_MS + 1500);
      expect(result.said).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.said).toContain('"code":"request_timeout"');
    }
    // The ordinary client did not wait behind them (generous bounds: this VM is noisy).
    expect(percentile(during, 95)).toBeLessThan(Math.max(250, 5 * percentile(baseline, 95)));
  }, 30_000);
});
