import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { spawnServer } from './support/spawn.ts';

type Answer = {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
};

/** A plain HTTP GET over `agent` (to control keep-alive), resolved with status, body and arrival time. */
const request = (url: string, agent?: Agent) =>
  new Promise<Answer>((resolve, reject) => {
    get(url, { agent }, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers, at: Date.now() }),
      );
    }).on('error', reject);
  });

describe('graceful shutdown', () => {
  it('SIGTERM: /readyz turns 503 at once while a slow in-flight request completes; exit 0', async () => {
    const server = await spawnServer({ SHUTDOWN_DELAY_MS: '1500' });
    const slow = request(`${server.url}/probe/slow?ms=2500`);
    await sleep(300);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await sleep(100);

    const readyz = await request(`${server.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toEqual({
      status: 'fail',
      checks: { shutdown: { status: 'fail', reason: 'shutting_down' } },
    });
    expect(readyz.headers.connection).toBe('close');

    const done = await slow;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toEqual({ slept_ms: 2500 });
    expect(done.headers.connection).toBe('close');

    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalled).toBeLessThan(10_000);
    await expect(request(`${server.url}/livez`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(server.logs.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutdown started: /readyz now answers 503', 'shutdown complete']),
    );
  });

  it('idle keep-alive connections do not hold the process open', async () => {
    const server = await spawnServer({ KEEP_ALIVE_TIMEOUT_MS: '60000' });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    expect((await request(`${server.url}/livez`, agent)).status).toBe(200); // leaves an idle socket
    const slow = request(`${server.url}/probe/slow?ms=800`, agent);
    await sleep(200);
    server.child.kill('SIGTERM');

    const done = await slow;
    expect(done.status).toBe(200);
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    // Without closeIdleConnections() and `Connection: close` the idle socket would keep the process up
    // until the 60 s keep-alive timeout.
    expect(exit.at - done.at).toBeLessThan(5000);
    agent.destroy();
  });

  it('SHUTDOWN_TIMEOUT_MS bounds requests that do not finish', async () => {
    const server = await spawnServer({ SHUTDOWN_TIMEOUT_MS: '500' });
    const stuck = request(`${server.url}/probe/slow?ms=30000`).catch((error: NodeJS.ErrnoException) => error);
    await sleep(200);
    const signalled = Date.now();
    server.child.kill('SIGTERM');

    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalled).toBeLessThan(5000);
    expect(await stuck).toMatchObject({ code: 'ECONNRESET' });
    expect(server.logs.some((line) => line.msg === 'shutdown deadline reached: cutting connections')).toBe(
      true,
    );
  });
});
