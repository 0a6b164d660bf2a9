// Metrics as a real Prometheus sees them: a two-worker process (the primary answers for both workers)
// scraped every second; exact counts after exact requests, bounded series, nothing on the public port.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';
import { startPrometheus } from './support/prometheus.ts';
import { type SpawnedServer, spawnServer } from './support/spawn.ts';

const PASSWORD = 'metrics are counted, never this';
// Both workers must verify the tokens either signs.
const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
const JWT_SIGNING_KEY = JSON.stringify({
  ...(await exportJWK(privateKey)),
  kid: 'metrics-test',
  alg: 'EdDSA',
});

/** One request on a connection of its own, so the cluster's round robin spreads them over both workers. */
function send(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const target = new URL(path, url);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = (value: unknown) => ({
  body: JSON.stringify(value),
  type: { 'content-type': 'application/json' },
});

describe('metrics with WEB_CONCURRENCY=2, scraped by Prometheus', () => {
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  afterAll(() => prometheus?.stop());

  // One test: spawned servers are stopped after each test (test/support/spawn.ts).
  it('exact counts after exact requests, summed over both workers; bounded series; nothing on the public port', async () => {
    const metricsPort = await freePort();
    const server = await spawnServer({
      WEB_CONCURRENCY: '2',
      METRICS_PORT: String(metricsPort),
      RATE_LIMIT_LOGIN: '3/1m',
      JWT_SIGNING_KEY,
    });
    prometheus = await startPrometheus(`127.0.0.1:${metricsPort}`);
    await countsAreExact(server, prometheus);
    await unknownPathsAddNoSeries(server, prometheus);
    await onlyOnTheMetricsPort(server, metricsPort);
  }, 150_000);
});

type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;

/** After exactly N requests to /v1/me the cluster-wide count is N; auth, rate-limit and upload counters follow. */
async function countsAreExact(server: SpawnedServer, prometheus: Prometheus) {
  const email = `metrics-${randomBytes(4).toString('hex')}@example.com`;
  const register = json({ email, password: PASSWORD });
  expect((await send(server.url, 'POST', '/v1/auth/register', register.type, register.body)).status).toBe(
    201,
  );
  const login = json({ email, password: PASSWORD });
  const signedIn = await send(server.url, 'POST', '/v1/auth/login', login.type, login.body);
  expect(signedIn.status).toBe(200);
  const token = JSON.parse(signedIn.body).access_token as string;
  // Three logins per minute: two wrong passwords are judged, the next two are refused unjudged.
  const wrong = json({ email, password: 'not the password at all' });
  const statuses = [];
  for (let i = 0; i < 4; i++)
    statuses.push((await send(server.url, 'POST', '/v1/auth/login', wrong.type, wrong.body)).status);
  expect(statuses).toEqual([401, 401, 429, 429]);

  const N = 37;
  for (let i = 0; i < N; i++) {
    const me = await send(server.url, 'GET', '/v1/me', { authorization: `Bearer ${token}` });
    expect(me.status, me.body).toBe(200);
  }
  const boundary = 'metricsboundary';
  const file = Buffer.alloc(1234, 1);
  const multipart = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const uploaded = await send(
    server.url,
    'POST',
    '/v1/documents',
    { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    multipart,
  );
  expect(uploaded.status, uploaded.body).toBe(201);

  const sum = (selector: string) => `sum(${selector})`;
  expect(
    await prometheus.until(sum('http_server_request_duration_seconds_count{http_route="/v1/me"}'), N),
  ).toBe(N);
  expect(
    await prometheus.query(
      sum(
        'http_server_request_duration_seconds_count{http_route="/v1/me",http_response_status_code="200",http_request_method="GET"}',
      ),
    ),
  ).toBe(N);
  // Every series is already there in that scrape (one scrape answers for all workers at once).
  const counts: Record<string, number | undefined> = {};
  for (const [name, selector] of Object.entries({
    loginAllowed: 'stowage_ratelimit_decisions_total{policy="login",outcome="allowed"}',
    loginRejected: 'stowage_ratelimit_decisions_total{policy="login",outcome="rejected"}',
    accountAllowed: 'stowage_ratelimit_decisions_total{policy="account",outcome="allowed"}',
    passwordSuccess: 'stowage_auth_attempts_total{method="password",outcome="success"}',
    passwordFailure: 'stowage_auth_attempts_total{method="password",outcome="failure"}',
    sessionSuccess: 'stowage_auth_attempts_total{method="session",outcome="success"}',
    stored: 'stowage_uploads_total{outcome="stored"}',
    bytes: 'stowage_upload_bytes_total',
    argon2Verify: 'stowage_password_hash_duration_seconds_count{operation="verify"}',
    putObject: 'stowage_s3_operation_duration_seconds_count{operation="PutObject",outcome="ok"}',
    buildInfo: 'stowage_build_info',
  })) {
    counts[name] = await prometheus.query(sum(selector));
  }
  expect(counts).toEqual({
    loginAllowed: 3,
    loginRejected: 2,
    accountAllowed: N + 1,
    passwordSuccess: 1,
    passwordFailure: 2,
    sessionSuccess: N + 1,
    stored: 1,
    bytes: 1234,
    argon2Verify: 3,
    putObject: 1,
    buildInfo: 1, // `max` over the workers, not their sum
  });
  expect(
    await prometheus.query(sum('db_client_operation_duration_seconds_count{db_operation_name="SELECT"}')),
  ).toBeGreaterThan(0);
  expect(await prometheus.query('max(stowage_runtime_mode{mode="normal"})')).toBe(1);
}

async function unknownPathsAddNoSeries(server: SpawnedServer, prometheus: Prometheus) {
  const series = 'count({job="stowage",__name__=~"http_.*|stowage_.*|db_.*"})';
  const unknown = () => `/${randomBytes(6).toString('hex')}/${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < 10; i++) expect((await send(server.url, 'GET', unknown())).status).toBe(404);
  await prometheus.nextScrape();
  const before = await prometheus.query(series);
  const all = Array.from({ length: 1000 }, unknown);
  for (let i = 0; i < all.length; i += 50) {
    // Keep-alive batches of 50: fast enough, and both workers still get their share of the connections.
    await Promise.all(
      all.slice(i, i + 50).map((path) => fetch(`${server.url}${path}`).then((r) => r.text())),
    );
  }
  expect(
    await prometheus.until('sum(http_server_request_duration_seconds_count{http_route="unmatched"})', 1010),
  ).toBe(1010);
  expect(await prometheus.query(series)).toBe(before);
}

async function onlyOnTheMetricsPort(server: SpawnedServer, metricsPort: number) {
  expect((await send(server.url, 'GET', '/metrics')).status).toBe(404);
  const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(scrape.status).toBe(200);
  expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(await scrape.text()).toMatch(/^# HELP http_server_request_duration_seconds /m);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
}

describe('metrics of a single process', () => {
  it('serves its own registry, with the SLO buckets and the Node runtime metrics', async () => {
    const port = await freePort();
    const server = await spawnServer({ METRICS_PORT: String(port) });
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const le of ['0.05', '0.1', '0.2', '0.5'])
      expect(text).toContain(
        `http_server_request_duration_seconds_bucket{le="${le}",http_request_method="GET",http_route="/livez",http_response_status_code="200"}`,
      );
    for (const name of [
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_utilization_ratio',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds_bucket',
      'process_resident_memory_bytes',
      'process_open_fds',
      'db_client_connection_max',
      'stowage_session_cache_listener_up',
    ])
      expect(text).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
    expect(server.logs.find((line) => line.msg === 'metrics listening')).toMatchObject({
      metrics_url: `http://127.0.0.1:${port}/metrics`,
    });
  });
});

describe('METRICS_ENABLED=false', () => {
  it('opens no metrics listener', async () => {
    const port = await freePort();
    const server = await spawnServer({ METRICS_PORT: String(port), METRICS_ENABLED: 'false' });
    expect((await fetch(`${server.url}/livez`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    expect(server.logs.some((line) => line.msg === 'metrics listening')).toBe(false);
  });
});
