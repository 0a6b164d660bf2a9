// Issue 10 #1, "must show": the truncated-upload family sent 50 times to a real two-worker server. Once,
// one such request killed a worker (and one a second kept workers down through the respawn backoff).
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createDatabase } from '../src/db/client.ts';
import { createSweeper } from '../src/modules/documents/sweeper.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createStorage } from '../src/storage/storage.ts';
import { PASSWORD, uniqueEmail } from './support/api.ts';
import { createTestBucket, createTestDatabase, testEnv } from './support/harness.ts';
import { rawExchange, TRUNCATED_KINDS, truncatedUpload } from './support/raw-http.ts';
import { spawnServer } from './support/spawn.ts';

const ROUNDS = 50;

async function signUp(url: string) {
  const email = uniqueEmail('cluster');
  const json = { 'content-type': 'application/json' };
  const body = JSON.stringify({ email, password: PASSWORD });
  expect((await fetch(`${url}/v1/auth/register`, { method: 'POST', headers: json, body })).status).toBe(201);
  const login = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: json, body });
  return ((await login.json()) as { access_token: string }).access_token;
}

/** GET /v1/me over one keep-alive connection until `stop()`; every outcome, by status or error. */
async function meLoop(url: string, token: string, stopped: () => boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const outcomes: string[] = [];
  while (!stopped()) {
    outcomes.push(
      await new Promise<string>((resolve) => {
        get(`${url}/v1/me`, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
          response.resume();
          response.on('end', () => resolve(String(response.statusCode)));
        }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      }),
    );
  }
  agent.destroy();
  return outcomes;
}

describe('truncated uploads against a two-worker cluster', () => {
  it(`${ROUNDS} rounds of the family: no worker exits, only 4xx problems, /v1/me never fails, nothing left`, async () => {
    const databaseUrl = await createTestDatabase();
    const bucket = await createTestBucket();
    // Workers of one deployment share the signing key (without one, each would make its own).
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const env = {
      JWT_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'cluster', alg: 'EdDSA' }),
      DATABASE_URL: databaseUrl,
      S3_BUCKET: bucket,
      WEB_CONCURRENCY: '2',
    };
    const server = await spawnServer(env);
    const pidsAtStart = server.logs.filter((l) => l.msg === 'worker listening').map((l) => l.worker_pid);
    expect(pidsAtStart).toHaveLength(2);
    const [attacker, bystander] = [await signUp(server.url), await signUp(server.url)];

    let done = false;
    const bystanderLoop = meLoop(server.url, bystander, () => done);
    const answers: { kind: string; status: number; type?: string; code?: string }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        TRUNCATED_KINDS.map(async (kind) => {
          const { head, body, halfClose } = truncatedUpload(kind, server.url, attacker, 20_000 + round * 997);
          const result = await rawExchange(server.url, head, body, {
            halfClose,
            answers: halfClose ? undefined : 1,
          });
          for (const answer of result.answers) {
            answers.push({
              kind,
              status: answer.status,
              type: answer.headers['content-type'],
              code: (JSON.parse(answer.body || '{}') as { code?: string }).code,
            });
          }
        }),
      );
    }
    await sleep(300);
    done = true;
    const me = await bystanderLoop;

    // No worker exited or was replaced: the same two pids, and the primary logged no death.
    expect(server.logs.filter((l) => l.msg === 'worker died' || l.msg === 'worker exited')).toEqual([]);
    expect(server.logs.filter((l) => l.msg === 'worker listening').map((l) => l.worker_pid)).toEqual(
      pidsAtStart,
    );
    expect(server.child.exitCode).toBeNull();
    // Every answer that arrived is a 4xx problem; each connection left open got one.
    expect(answers.length).toBeGreaterThanOrEqual(ROUNDS * 3);
    expect(
      answers.filter((a) => !(a.status >= 400 && a.status < 500 && a.type === 'application/problem+json')),
    ).toEqual([]);
    expect(answers.filter((a) => a.code !== 'bad_request')).toEqual([]);
    // The bystander never saw anything but 200.
    expect(me.length).toBeGreaterThan(20);
    expect(me.filter((outcome) => outcome !== '200')).toEqual([]);

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);

    // After the sweeper (run here with no grace: every pending row counts as abandoned): nothing left.
    const config = loadConfig(await testEnv(env));
    const logger = createLogger({ level: 'silent' });
    const database = createDatabase({ ...config.database, url: databaseUrl }, { logger, slowQueryMs: 1000 });
    const storage = createStorage({ ...config.s3, endpoint: config.s3.endpoint! });
    try {
      await createSweeper({ db: database.db, storage, logger, pendingTtlS: 0 }).runOnce();
      const sql = postgres(databaseUrl, { max: 1 });
      expect(await sql`select status from documents`).toEqual([]);
      await sql.end();
      const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const listed = await storage.client.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect(listed.Contents ?? []).toEqual([]);
    } finally {
      storage.close();
      await database.close();
    }
  }, 180_000);
});
