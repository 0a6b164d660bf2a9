import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../src/db/migrations.ts';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { freePort } from '../src/dev/free-port.ts';
import { registry } from '../src/telemetry/metrics.ts';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

let dir: string;
let port: number;
let pg: EmbeddedPostgresHandle;
let server: TestServer;
let client: ReturnType<typeof api>;

const startPostgres = () => startEmbeddedPostgres({ dir: join(dir, 'pg'), port, ephemeral: true });

beforeAll(async () => {
  // A Postgres of this file's own, so stopping it breaks no other test.
  dir = await mkdtemp(join(tmpdir(), 'stowage-limiter-faults-'));
  await chmod(dir, 0o755);
  port = await freePort();
  pg = await startPostgres();
  await migrateDatabase(pg.url());
  server = await startTestServer({
    env: { DATABASE_URL: pg.url(), RATE_LIMIT_LOGIN: '3/1m', DATABASE_CONNECT_TIMEOUT_S: '1' },
  });
  client = api(server);
}, 60_000);

afterAll(async () => {
  await server.shutdown('done');
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
});

const login = (ip: string) =>
  client.call('POST', '/v1/auth/login', {
    body: { email: 'someone@example.com', password: 'whatever password' },
    headers: { 'x-forwarded-for': ip },
  });

describe('rate limiter during a Postgres outage', () => {
  it('falls back to the per-instance memory limiter (logged and counted), and back when Postgres returns', async () => {
    expect((await login('198.51.100.1')).status).toBe(401);
    expect(server.services.rateLimits.fallbackDecisions).toBe(0);

    await pg.stop();
    const during = [];
    for (let i = 0; i < 4; i++) during.push(await login('198.51.100.2'));
    // The limiter still decides (from memory): three pass on to a handler that cannot reach Postgres,
    // the fourth is refused with the same policy and headers as ever.
    expect(during.map((r) => r.status)).toEqual([503, 503, 503, 429]);
    expect(during[0]!.body!.code).toBe('service_unavailable');
    expect(during[3]!.body!.code).toBe('rate_limited');
    expect(during[3]!.headers.get('ratelimit-policy')).toBe('"login";q=3;w=60');
    const fallbacks = server.services.rateLimits.fallbackDecisions;
    expect(fallbacks).toBeGreaterThanOrEqual(4);
    // Exported too: the counter per policy, and the flag an alert keys on.
    const exported = await registry.metrics();
    expect(exported).toContain('stowage_ratelimit_fallback_decisions_total{policy="login"} 4');
    expect(exported).toMatch(/^stowage_ratelimit_fallback_active 1$/m);
    const warnings = server.logs.lines.filter(
      (line) => line.msg === 'rate limiter store unavailable: deciding from this instance’s memory',
    );
    expect(warnings).toHaveLength(1); // once per interval, not per decision
    expect(warnings[0]).toMatchObject({ level: 'warn', policy: 'login', fallback_decisions: 1 });

    pg = await startPostgres();
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await client.call('GET', '/readyz')).status === 200) break;
      await sleep(200);
    }
    expect((await login('198.51.100.3')).status).toBe(401);
    expect(server.services.rateLimits.fallbackDecisions).toBe(fallbacks);
  }, 60_000);
});
