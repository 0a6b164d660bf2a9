// Schema-driven fuzzing: requests generated from /openapi.json (valid and mutated) against the real
// process model (two cluster workers), with a fixed seed in CI. `pnpm fuzz` runs a long random one.
// Oracles: see support/fuzz/oracle.ts (every answer), then: every process alive, /readyz 200, no
// secret in any log line, database and bucket consistent after the sweeper.
import fc from 'fast-check';
import { exportJWK, generateKeyPair } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { freePort } from '../src/dev/free-port.ts';
import { api } from './support/api.ts';
import { checkConsistency } from './support/consistency.ts';
import { violations } from './support/fuzz/oracle.ts';
import {
  type FuzzRequest,
  type FuzzWorld,
  type OpenApiDocument,
  requestArbitrary,
} from './support/fuzz/requests.ts';
import { createSender } from './support/fuzz/send.ts';
import { createTestBucket, createTestDatabase, type TestServer, testEnv } from './support/harness.ts';
import { MAIN, type SpawnedServer, spawnServer } from './support/spawn.ts';
import { type SpawnedWorker, spawnWorker } from './support/worker.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const ADMIN = { email: 'fuzz-admin@example.com', password: 'fuzz admin passphrase 1' };
const PASSWORD = 'fuzz user passphrase 1';

let server: SpawnedServer;
let worker: SpawnedWorker;
let env: Record<string, string>;
const secrets = new Set<string>([ADMIN.password, PASSWORD]);

/** The shared JSON client of the tests, on the spawned server. */
const json = (method: string, path: string, body?: unknown, token?: string) =>
  api(server as unknown as TestServer)
    .call(method, path, { body, token })
    .then((answer) => ({ ...answer, body: answer.body ?? {} }));

async function account(tag: string) {
  const email = `fuzz-${tag}@example.com`;
  expect((await json('POST', '/v1/auth/register', { email, password: PASSWORD })).status).toBe(201);
  const login = await json('POST', '/v1/auth/login', { email, password: PASSWORD });
  expect(login.status).toBe(200);
  secrets.add(login.body.access_token);
  return { token: login.body.access_token as string, id: login.body.user.id as string };
}

async function uploadSmall(token: string, name: string) {
  const form = new FormData();
  form.append('file', new Blob([`content of ${name}`], { type: 'text/plain' }), name);
  const response = await fetch(`${server.url}/v1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { document: { id: string } }).document.id;
}

beforeAll(async () => {
  // Both workers must sign and verify with one key (without one, each would generate its own).
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  env = await testEnv({
    JWT_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'fuzz', alg: 'EdDSA' }),
    DATABASE_URL: await createTestDatabase(),
    S3_BUCKET: await createTestBucket(),
    WEB_CONCURRENCY: '2',
    // A fixed port: with port 0, a respawned cluster worker would listen on a new random one.
    PORT: String(await freePort()),
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    MAX_UPLOAD_BYTES: String(1024 * 1024),
  });
  server = await spawnServer(env, MAIN, { perFile: true });
  // The background worker beside them: exports the fuzzer creates run, mail is sent, sweeps happen.
  worker = await spawnWorker({ config: loadConfig(env) } as TestServer);
}, 120_000);

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
});

describe(`fuzz (seed ${SEED}, ${RUNS} requests)`, () => {
  it(
    'answers every generated request within the contract, and leaves everything consistent',
    async () => {
      const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument;
      const owner = await account('owner');
      const other = await account('other');
      const victim = await account('victim');
      const adminLogin = await json('POST', '/v1/auth/login', ADMIN);
      secrets.add(adminLogin.body.access_token);
      const key = await json('POST', '/v1/api-keys', { name: 'fuzz' }, owner.token);
      const spareKey = await json('POST', '/v1/api-keys', { name: 'spare' }, owner.token);
      secrets.add(key.body.key);
      secrets.add(spareKey.body.key);
      const world: FuzzWorld = {
        host: new URL(server.url).host,
        credentials: {
          session: owner.token,
          apiKey: key.body.key,
          foreign: other.token,
          admin: adminLogin.body.access_token,
        },
        ids: [
          await uploadSmall(owner.token, 'mine.txt'),
          await uploadSmall(owner.token, 'mine too.txt'),
          await uploadSmall(other.token, 'theirs.txt'),
          spareKey.body.id,
          other.id,
          victim.id,
          'doc_01jzzzzzzzzzzzzzzzzzzzzzzz',
        ],
      };

      const sender = createSender(server.url);
      const statuses = new Map<string, number>();
      const failures: Array<{
        request: FuzzRequest;
        response: unknown;
        problems: string[];
        after?: string[];
      }> = [];
      const recent: string[] = [];
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(requestArbitrary(document, world), async (request) => {
          if (failures.length >= 20) return true; // enough to act on; a dead server would fail them all
          const response = await sender.send(request);
          sent++;
          const outcome =
            response.status ||
            response.noAnswer ||
            (response.error?.startsWith('client refused') ? 'not sent' : 'error');
          const bucket = `${request.endpoint === 'raw' ? 'raw' : request.method} ${outcome}`;
          statuses.set(bucket, (statuses.get(bucket) ?? 0) + 1);
          const problems = violations(request, response);
          if (problems.length && failures.length < 20) {
            const { body: _b, bodyBase64: _m, raw, ...shown } = request;
            failures.push({
              request: {
                ...shown,
                body: request.body?.slice(0, 300),
                raw: raw?.slice(0, 300),
              } as FuzzRequest,
              response: { status: response.status, body: response.body.slice(0, 300), error: response.error },
              problems,
              // What came just before: a request that ends a process shows up as its successors' failure.
              after: failures.length ? undefined : [...recent],
            });
          }
          recent.push(
            `${request.mutation} ${request.method} ${request.path.slice(0, 80)} → ${response.status}`,
          );
          if (recent.length > 5) recent.shift();
          // Keep the run exploring: new resources join the id pool; a changed runtime mode goes back.
          if (response.status === 201) {
            const created = JSON.parse(response.body);
            const id = created.document?.id ?? created.id;
            if (typeof id === 'string') world.ids.push(id);
          }
          if (request.endpoint === 'PUT /v1/admin/runtime-mode' && response.status === 200) {
            await json('PUT', '/v1/admin/runtime-mode', { mode: 'normal' }, world.credentials.admin);
          }
          return true;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      sender.close();
      console.error(
        `[fuzz] seed ${SEED}: ${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
      );
      if (failures.length) {
        console.error(
          `[fuzz] replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}:\n${JSON.stringify(failures, null, 2)}`,
        );
      }
      if (failures.length)
        console.error(
          `[fuzz] server log: ${JSON.stringify(server.logs.filter((l) => l.level === 'error' || l.level === 'fatal').slice(0, 5))}`,
        );
      expect(failures).toEqual([]);

      // Every process is alive and ready.
      expect(server.child.exitCode).toBeNull();
      expect(server.logs.filter((line) => line.msg === 'worker died')).toEqual([]);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(worker.child.exitCode).toBeNull();
      expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);

      // No secret the run used (or its stored hash) reached a log line.
      const sql = postgres(env.DATABASE_URL!, { max: 1, onnotice: () => {} });
      for (const row of await sql`select password_hash from users`) secrets.add(row.password_hash);
      for (const row of await sql`select key_hash from api_keys`) secrets.add(row.key_hash);
      await sql.end();
      const logText = [...server.logs, ...worker.logs].map((line) => JSON.stringify(line)).join('\n');
      expect([...secrets].filter((secret) => logText.includes(secret))).toEqual([]);

      // Database and bucket agree.
      const consistency = await checkConsistency(loadConfig(env));
      console.error(
        `[fuzz] consistency: ${JSON.stringify({ ...consistency, problems: consistency.problems.length })}`,
      );
      expect(consistency.problems).toEqual([]);
    },
    Math.max(900_000, RUNS * 60),
  );
});
