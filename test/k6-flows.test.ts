// The k6 suite's request flows, run against a real server. No k6 binary can be installed here, so a
// shim (test/k6/shim) gives the scripts k6/http, k6/metrics and k6/execution over fetch, one VU, a few
// iterations, k6-style thresholds and their own handleSummary. What this proves: every request the
// scripts send gets the status, headers and body they expect (checks, unexpected statuses, transport
// errors, http_req_failed), set-up and teardown work with and without an admin. What it cannot prove:
// latency under load, so the latency thresholds are reported, not asserted.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { unavailableProblems } from '../k6/lib/headers.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const run = promisify(execFile);
const ADMIN = {
  BOOTSTRAP_ADMIN_EMAIL: 'k6-admin@example.com',
  BOOTSTRAP_ADMIN_PASSWORD: 'a long k6 admin passphrase',
};

type ShimResult = {
  failedThresholds: string[];
  failedChecks: string[];
  checks: number;
  files: string[];
  table: string;
};

async function shim(server: TestServer, entry: string, iterations: number, env: Record<string, string>) {
  const resultsDir = await mkdtemp(join(tmpdir(), 'k6-results-'));
  const { stdout, stderr } = await run(
    process.execPath,
    ['--import', './test/k6/shim/register.ts', 'test/k6/shim/run.ts', entry, String(iterations)],
    {
      env: { ...process.env, BASE_URL: server.url, RESULTS_DIR: resultsDir, LOGIN_SPREAD_S: '0', ...env },
      timeout: 110_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('K6SHIM '));
  expect(line, stderr).toBeDefined();
  const result = JSON.parse(line!.slice('K6SHIM '.length)) as ShimResult;
  // Latency on a shared CI machine says nothing about the service: everything else must hold.
  const functional = result.failedThresholds.filter((t) => !t.startsWith('http_req_duration{'));
  expect({ functional, checks: result.failedChecks, warnings: stderr }).toEqual({
    functional: [],
    checks: [],
    warnings: '',
  });
  return { ...result, resultsDir, files: await readdir(resultsDir) };
}

describe('k6 flows against a real server', () => {
  it('smoke, then load, spike and soak reusing (and re-enabling) the pool users, with the bootstrap admin', async () => {
    const server = await startTestServer({ env: ADMIN });
    const smoke = await shim(server, 'k6/smoke.ts', 1, { ...ADMIN, SHIM_SLEEP_SCALE: '0' });
    expect(smoke.checks).toBeGreaterThan(35);
    expect(smoke.table).toMatch(/^k6 smoke: (PASS|FAIL)/);
    expect(smoke.table).toContain('POST /v1/auth/refresh');
    expect(smoke.files.filter((f) => /^smoke-.*\.(json|txt)$/.test(f))).toHaveLength(2);
    const report = JSON.parse(
      await readFile(join(smoke.resultsDir, smoke.files.find((f) => f.endsWith('.json'))!), 'utf8'),
    );
    expect(report.endpoints.length).toBe(27);

    await shim(server, 'k6/load.ts', 2, { ...ADMIN, LOAD_VUS: '2', SHIM_SLEEP_SCALE: '0' });
    const spike = await shim(server, 'k6/spike.ts', 2, { ...ADMIN, SPIKE_VUS: '2', SHIM_SLEEP_SCALE: '0' });
    expect(spike.table).toContain('spike_recovery  POST /v1/auth/login'); // the recovery VU logs in itself
    await shim(server, 'k6/soak.ts', 3, { ...ADMIN, SOAK_VUS: '2', SHIM_SLEEP_SCALE: '0' });

    // Teardown left no documents, disabled the pool users and put them back on the free tier.
    const sql = postgres(server.config.database.url!, { max: 1, onnotice: () => {} });
    try {
      const users =
        await sql`select email, disabled_at is not null as disabled, tier from users where email like 'k6-0%'`;
      expect(users.map((u) => [u.email, u.disabled, u.tier]).sort()).toEqual([
        ['k6-0000@k6.example.com', true, 'free'],
        ['k6-0001@k6.example.com', true, 'free'],
      ]);
      const [documents] = await sql`select count(*)::int as count from documents where status = 'ready'`;
      expect(documents?.count).toBe(0);
    } finally {
      await sql.end();
    }
  }, 240_000);

  it('limits without an admin: 429s with correct headers, Retry-After honoured, keys and sessions cleaned up', async () => {
    const server = await startTestServer({
      env: {
        RATE_LIMIT_ACCOUNT: '20/10s',
        RATE_LIMIT_API_KEY_FREE: '100/1m burst 10',
        RATE_LIMIT_LOGIN: '10/1m',
      },
    });
    const limits = await shim(server, 'k6/limits.ts', 1, { SHIM_SLEEP_SCALE: '1' });
    expect(limits.table).toMatch(/429 rate limited 2/);
    const sql = postgres(server.config.database.url!, { max: 1, onnotice: () => {} });
    try {
      const [live] = await sql`select count(*)::int as count from api_keys where revoked_at is null`;
      expect(live?.count).toBe(0);
      const [sessions] = await sql`select count(*)::int as count from sessions where revoked_at is null`;
      expect(sessions?.count).toBe(1); // the limits VU's own session (no admin to end it)
    } finally {
      await sql.end();
    }
  }, 120_000);

  it('the stress and spike check accepts the API’s real shedding answer', async () => {
    const server = await startTestServer({ env: { MAX_IN_FLIGHT: '1' } });
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        // A login for an unknown account still hashes (argon2id): slow enough to pile up.
        const response = await fetch(`${server.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'nobody@example.com', password: 'not the password at all' }),
        });
        return {
          status: response.status,
          headers: Object.fromEntries(response.headers),
          body: await response.text(),
        };
      }),
    );
    const shed = answers.filter((answer) => answer.status === 503);
    expect(shed.length).toBeGreaterThan(0);
    for (const answer of shed) {
      const code = (JSON.parse(answer.body) as { code: string }).code;
      expect(unavailableProblems(answer.headers, code, ['overloaded'])).toEqual([]);
    }
  });
});
