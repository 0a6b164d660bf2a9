// The dashboards against the real thing: a two-worker Stowage (the production process, with the test
// probe routes mounted) and its background worker process, scraped every second by a real Prometheus
// (Debian's `prometheus`) that also
// evaluates ops/prometheus/rules. The test drives traffic with errors, rate limiting, uploads, shed and
// timed-out requests and a slow one, then runs every dashboard's PromQL query: each returns data,
// except the short list below, each with the reason it stays empty here.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { freePort } from '../../src/dev/free-port.ts';
import { createTestBucket, createTestDatabase, type TestServer, testEnv } from '../support/harness.ts';
import { type SpawnedServer, spawnServer } from '../support/spawn.ts';
import { type SpawnedWorker, spawnWorker } from '../support/worker.ts';
import { dashboardTargets, interpolate, path } from './support.ts';

/** Panels that legitimately return nothing in this test, and why. */
const EMPTY_HERE: Record<string, string> = {
  'Stowage / Dependencies / S3 errors by operation': 'no object-store call fails in this test',
  'Stowage / API overview / Server span p95 by route, with exemplars (Tempo span metrics)':
    'Tempo writes span metrics; no Tempo runs here (tracing is off)',
  'Stowage / Dependencies / Insurance limiter decisions':
    'Postgres answers every limiter call, so the insurance limiter never decides',
};

const PASSWORD = 'correct horse battery staple';
const processes: ChildProcess[] = [];
let server: SpawnedServer;
let worker: SpawnedWorker;
let prometheusUrl: string;
/** Every query runs at this instant, taken after the traffic: later scrapes (or the server's exit) change nothing. */
let at = 0;

async function startPrometheus(metricsTarget: string, workerTarget: string) {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: [path('ops/prometheus/rules/*.rules.yml')],
    scrape_configs: [
      { job_name: 'stowage-api', static_configs: [{ targets: [metricsTarget] }] },
      { job_name: 'stowage-worker', static_configs: [{ targets: [workerTarget] }] },
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: 'ignore' },
  );
  processes.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return url;
    await sleep(100);
  }
  throw new Error('prometheus did not become ready');
}

async function metricsUrl(s: SpawnedServer): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const line = s.logs.find((l) => l.msg === 'metrics listening');
    if (line) return new URL(line.metrics_url as string).host;
    await sleep(100);
  }
  throw new Error('no metrics listener');
}

async function call(
  method: string,
  route: string,
  options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.json ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.json ? JSON.stringify(options.json) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

async function uploadFile(token: string, size: number, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('file', new Blob([randomBytes(size)], { type: 'application/pdf' }), 'report.pdf');
  const response = await fetch(`${server.url}/v1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...headers },
    body: form,
  });
  const body = (await response.json()) as { id?: string };
  return { status: response.status, id: body.id };
}

/** One round of the traffic the dashboards are about; rounds are spread over several scrapes. */
async function round(token: string, email: string, seen: Map<string, number>) {
  const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  for (let i = 0; i < 10; i++) count(`me ${(await call('GET', '/v1/me', { token })).status}`);
  count(`patch me ${(await call('PATCH', '/v1/me', { token, json: { name: 'Ops' } })).status}`);
  count(`list ${(await call('GET', '/v1/documents', { token })).status}`);
  const stored = await uploadFile(token, 20_000, {
    'idempotency-key': `ops-${randomBytes(4).toString('hex')}`,
  });
  count(`upload ${stored.status}`);
  if (stored.id)
    count(`content ${(await call('GET', `/v1/documents/${stored.id}/content`, { token })).status}`);
  count(`upload too large ${(await uploadFile(token, 300_000)).status}`);
  count(`login ${(await call('POST', '/v1/auth/login', { json: { email, password: PASSWORD } })).status}`);
  count(
    `bad login ${(await call('POST', '/v1/auth/login', { json: { email, password: 'wrong password!' } })).status}`,
  );
  for (let i = 0; i < 3; i++)
    count(`unknown ${(await call('GET', `/no/such/${randomBytes(3).toString('hex')}`)).status}`);
  count(`boom ${(await call('GET', '/probe/boom')).status}`);
  count(`slow ${(await call('GET', '/probe/slow?ms=400')).status}`);
  count(`timeout ${(await call('GET', '/probe/slow?ms=1500')).status}`);
  const burst = await Promise.all(Array.from({ length: 16 }, () => call('GET', '/probe/slow?ms=300')));
  for (const r of burst) count(`burst ${r.status}`);
  count(`readyz ${(await call('GET', '/readyz')).status}`);
  // Work for the worker: an export (one at a time per account: the next round's waits its turn), and a
  // reset mail its relay refuses, retried once and then dead-lettered.
  count(`export ${(await call('POST', '/v1/exports', { token, json: {} })).status}`);
  count(`reset ${(await call('POST', '/v1/auth/password-reset', { json: { email } })).status}`);
}

beforeAll(async () => {
  // Both workers must sign and verify with one key (without it each would generate its own).
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const shared = { DATABASE_URL: await createTestDatabase(), S3_BUCKET: await createTestBucket() };
  server = await spawnServer({
    ...shared,
    JWT_SIGNING_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'ops-live', alg: 'EdDSA' }),
    WEB_CONCURRENCY: '2',
    METRICS_HOST: '127.0.0.1',
    SLOW_REQUEST_MS: '300',
    HANDLER_TIMEOUT_MS: '1000',
    MAX_IN_FLIGHT: '4',
    MAX_UPLOAD_BYTES: '200000',
    QUOTA_FREE_BYTES: '50000',
    RATE_LIMIT_LOGIN: '6/1m',
  });
  worker = await spawnWorker({ config: loadConfig(await testEnv(shared)) } as TestServer, {
    METRICS_HOST: '127.0.0.1',
    SMTP_URL: `smtp://127.0.0.1:${await freePort()}`, // nothing listens: every mail fails
    MAIL_RETRY_LIMIT: '1',
    MAIL_RETRY_DELAY_S: '1',
  });
  prometheusUrl = await startPrometheus(await metricsUrl(server), new URL(worker.url).host);
}, 60_000);

afterAll(() => {
  for (const child of processes) child.kill('SIGTERM');
  worker?.child.kill('SIGTERM');
});

async function query(expr: string) {
  const response = await fetch(`${prometheusUrl}/api/v1/query?time=${at}&query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  expect(body.status, `${expr}: ${body.error}`).toBe('success');
  return body.data.result;
}

describe('dashboards against a live Stowage scraped by Prometheus', () => {
  const targets = dashboardTargets().filter((t) => t.datasource.type === 'prometheus');
  const results = new Map<string, { series: number; finite: number }>();

  beforeAll(async () => {
    const email = `ops-${randomBytes(4).toString('hex')}@example.com`;
    expect((await call('POST', '/v1/auth/register', { json: { email, password: PASSWORD } })).status).toBe(
      201,
    );
    const login = await call('POST', '/v1/auth/login', { json: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const seen = new Map<string, number>();
    for (let i = 0; i < 4; i++) {
      await round(login.body.access_token, email, seen);
      await sleep(1500);
    }
    // The traffic did what the panels need: errors, rate limiting, timeouts, shedding, uploads refused.
    const statuses = Object.fromEntries(seen);
    expect(statuses).toMatchObject({
      'boom 500': 4,
      'timeout 504': 4,
      'slow 200': 4,
      'upload 201': expect.any(Number),
    });
    expect(statuses['login 429']).toBeGreaterThan(0);
    expect(statuses['burst 503']).toBeGreaterThan(0);
    // The worker's side, before the last scrape: an export written, and the refused mail counted as
    // dead-lettered (pg-boss's queue counts are refreshed every few seconds, so ask Prometheus).
    for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
      if (worker.logs.some((l) => l.queue === 'export' && l.msg === 'job completed')) break;
      if (Date.now() > deadline)
        throw new Error(`no export completed: ${JSON.stringify(worker.logs.slice(-5))}`);
    }
    for (const deadline = Date.now() + 45_000; ; await sleep(500)) {
      const dead = await fetch(
        `${prometheusUrl}/api/v1/query?query=${encodeURIComponent('max(stowage_jobs_dead_lettered) > 0')}`,
      );
      if (((await dead.json()) as { data: { result: unknown[] } }).data.result.length) break;
      if (Date.now() > deadline)
        throw new Error('the dead-lettered mail never showed in stowage_jobs_dead_lettered');
    }
    await sleep(3000); // a last scrape and rule evaluation after the traffic
    at = Date.now() / 1000;
    for (const t of targets) {
      const result = await query(interpolate(t.query));
      const key = `${t.dashboard} / ${t.panel}`;
      const previous = results.get(key) ?? { series: 0, finite: 0 };
      results.set(key, {
        series: previous.series + result.length,
        finite: previous.finite + result.filter((r) => Number.isFinite(Number(r.value[1]))).length,
      });
    }
  }, 180_000);

  it('every panel returns data, except the named ones', () => {
    expect(results.size).toBe(new Set(targets.map((t) => `${t.dashboard} / ${t.panel}`)).size);
    expect(results.size).toBeGreaterThan(40);
    const empty = [...results].filter(([, r]) => r.finite === 0).map(([panel]) => panel);
    expect(empty.sort()).toEqual(Object.keys(EMPTY_HERE).sort());
  });

  it('the panels the issue names show what the traffic did', async () => {
    const value = async (expr: string) => Number((await query(expr))[0]?.value[1]);
    expect(await value('sum(stowage_http_shed_requests_total)')).toBeGreaterThan(0);
    expect(await value('sum(stowage_http_handler_timeouts_total)')).toBe(4);
    expect(
      await value(
        'sum(http_server_request_duration_seconds_count{http_route="/probe/boom", http_response_status_code="500"})',
      ),
    ).toBe(4);
    expect(
      await value('sum(stowage_ratelimit_decisions_total{policy="login", outcome="rejected"})'),
    ).toBeGreaterThan(0);
    expect(await value('sum(stowage_uploads_total{outcome="too_large"})')).toBe(4);
    expect(await value('sum(stowage_uploads_total{outcome="stored"})')).toBe(2);
    expect(await value('sum(stowage_quota_rejections_total)')).toBe(2);
    expect(await value('slo:stowage_availability_errors:ratio_rate5m')).toBeGreaterThan(0);
    expect(await value('count(up{job="stowage-api"} == 1)')).toBe(1);
    // StowageReadinessFailing reads the probe's own answers: they are in the duration histogram.
    expect(
      await value('sum(http_server_request_duration_seconds_count{http_route="/readyz"})'),
    ).toBeGreaterThanOrEqual(4);
    // The two workers' counters are summed by the primary: 40 answers to /v1/me, one scrape target.
    expect(
      await value(
        'sum(http_server_request_duration_seconds_count{http_route="/v1/me", http_request_method="GET"})',
      ),
    ).toBe(40);
  });

  it('the SLO recording rules and alerts load and evaluate in the live Prometheus', async () => {
    const response = await fetch(`${prometheusUrl}/api/v1/rules`);
    const body = (await response.json()) as {
      data: { groups: { rules: { health: string; name: string }[] }[] };
    };
    const all = body.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThan(50);
    expect(all.filter((r) => r.health !== 'ok').map((r) => r.name)).toEqual([]);
  });
});
