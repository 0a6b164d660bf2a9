// A client that goes away while its JSON body is being read is no dependency failure: no error line, no
// 5xx in the access log or the metrics (found by the fuzzer: logged as "dependency failure", 503).
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './support/harness.ts';

describe('a client that goes away mid-body', () => {
  it('is logged as a 400 client error, not a 503 dependency failure', async () => {
    const server = await startTestServer();
    const url = new URL(server.url);
    for (let i = 0; i < 3; i++) {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => {});
      // Half a body, then either a broken chunk (Node drops the connection) or the client hanging up.
      socket.write(
        `POST /v1/auth/login HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nX-Request-ID: gone-${i}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"email":"a@exam\r\n`,
      );
      await sleep(100);
      if (i % 2) socket.destroy();
      else socket.end('zz\r\n');
    }
    await expect
      .poll(
        () =>
          server.logs.lines.filter((l) => String(l.request_id).startsWith('gone-') && l.msg === 'request')
            .length,
      )
      .toBe(3);
    const lines = server.logs.lines.filter((l) => String(l.request_id).startsWith('gone-'));
    expect(lines.filter((l) => l.msg === 'dependency failure' || l.level === 'error')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request').map((l) => l.status)).toEqual([400, 400, 400]);
  });
});
