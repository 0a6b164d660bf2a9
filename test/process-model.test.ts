import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type SpawnedServer, spawnServer } from './support/spawn.ts';

type Outcome = { status?: number; error?: string; connection?: string };

/** One GET over `agent`, as an outcome: a status, or the error code the client saw. */
const hit = (url: string, agent: Agent) =>
  new Promise<Outcome>((resolve) => {
    const request = get(url, { agent }, (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode, connection: response.headers.connection }),
      );
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    }).on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: `${error.code ?? error.message}${request.reusedSocket ? ' (reused socket)' : ''}` }),
    );
  });

/** `clients` keep-alive clients looping on `path` until `until()` or the server refuses connections. */
async function steadyLoad(url: string, clients: number, until: (answered: number) => boolean) {
  const outcomes: Outcome[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (!until(outcomes.length)) {
        const outcome = await hit(url, agent);
        outcomes.push(outcome);
        if (outcome.error === 'ECONNREFUSED') break;
      }
      agent.destroy();
    }),
  );
  return outcomes;
}

const workerPids = (server: SpawnedServer) =>
  server.logs.filter((line) => line.msg === 'worker listening').map((line) => line.worker_pid as number);

async function waitFor(predicate: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('process model (node:cluster)', () => {
  it.each([
    ['one process', '1'],
    ['two workers', '2'],
  ])(
    'SIGTERM under steady load (%s): every started request completes, none is reset',
    async (_name, workers) => {
      const server = await spawnServer({ WEB_CONCURRENCY: workers, SHUTDOWN_DELAY_MS: '700' });
      let stop = false;
      const load = steadyLoad(`${server.url}/probe/slow?ms=25`, 16, () => stop);
      await sleep(800);
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      stop = true;
      const outcomes = await load;

      expect(exit.code).toBe(0);
      const served = outcomes.filter((o) => o.status === 200);
      // Refused, or reset on a fresh socket the server never took from its accept queue (once the listener
      // closes, the kernel resets what is still queued): no request reached the app. A load balancer stops
      // opening connections during SHUTDOWN_DELAY_MS; these clients deliberately do not.
      const neverAccepted = (o: Outcome) => o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET';
      const failures = outcomes.filter((o) => o.status !== 200 && !neverAccepted(o));
      expect(failures).toEqual([]);
      expect(served.length).toBeGreaterThan(200);
      // Every request the server started was answered: its access log and the clients agree exactly.
      const started = server.logs.filter((line) => line.msg === 'request' && line.route === '/probe/slow');
      expect(started.length).toBe(served.length);
      expect(started.every((line) => line.status === 200)).toBe(true);
      // During the delay, answers ask clients to reconnect, which is how keep-alive sockets drain.
      expect(served.some((o) => o.connection === 'close')).toBe(true);
      expect(server.logs.map((line) => line.msg)).toEqual(
        expect.arrayContaining(
          workers === '1' ? ['shutdown complete'] : ['draining workers', 'all workers stopped'],
        ),
      );
    },
    30_000,
  );

  it('a crashed worker is respawned, and the service keeps answering', async () => {
    const server = await spawnServer({ WEB_CONCURRENCY: '2' });
    await waitFor(() => workerPids(server).length === 2);
    const [victim] = workerPids(server);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => workerPids(server).length === 3);
    const died = server.logs.find((line) => line.msg === 'worker died');
    expect(died).toMatchObject({ level: 'error', worker_pid: victim, signal: 'SIGKILL', respawn_in_ms: 100 });
    const agent = new Agent({ keepAlive: false });
    for (let i = 0; i < 10; i++) expect((await hit(`${server.url}/livez`, agent)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 30_000);

  it('MAX_REQUESTS_PER_WORKER recycles workers without failing a request', async () => {
    const server = await spawnServer({ WEB_CONCURRENCY: '2', MAX_REQUESTS_PER_WORKER: '40' });
    // Until both original workers were replaced and have exited, and the replacements served a while.
    let replacedAt = Number.POSITIVE_INFINITY;
    const outcomes = await steadyLoad(`${server.url}/probe/slow?ms=5`, 4, (answered) => {
      const exited = server.logs.filter((line) => line.msg === 'worker exited').length;
      if (replacedAt === Number.POSITIVE_INFINITY && exited >= 2) replacedAt = answered;
      return answered >= replacedAt + 100;
    });
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(server.logs.filter((line) => line.msg === 'recycling worker').length).toBeGreaterThanOrEqual(2);
    expect(server.logs.filter((line) => line.msg === 'worker exited').length).toBeGreaterThanOrEqual(2);
    expect(server.logs.some((line) => line.msg === 'worker died')).toBe(false);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 30_000);
});
