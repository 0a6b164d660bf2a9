// Traces and trace-correlated logs, end to end: the real server process exports OTLP/HTTP to a
// receiver started here, which decodes with the OpenTelemetry protobuf definitions (or OTLP/JSON).
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import { type SpawnedServer, spawnServer } from './support/spawn.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Its own folder (beside dist/, as the bundle reads ../package.json): test/build.test.ts rebuilds dist/
// while this file runs.
const BUNDLE_DIR = '.dist-telemetry-test';
const MODULE_WATCH = fileURLToPath(new URL('./fixtures/module-watch.ts', import.meta.url));
const SERVER = 2; // SpanKind.SERVER in OTLP
const PASSWORD = 'Tr4ced but never-seen passphrase';

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver?.close());

const tracingEnv = (extra: Record<string, string> = {}) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=otlp%20secret',
  OTEL_SERVICE_NAME: 'stowage-test',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,service.name=ignored',
  ...extra,
});

const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
const serverSpanOf = (requestId: string) =>
  receiver.spans.find((span) => span.kind === SERVER && span.attributes['stowage.request_id'] === requestId);

async function call(
  server: SpawnedServer,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: unknown } = {},
) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(init.body !== undefined && !(init.body instanceof FormData)
        ? { 'content-type': 'application/json' }
        : {}),
      ...init.headers,
    },
    body:
      init.body === undefined
        ? undefined
        : init.body instanceof FormData
          ? init.body
          : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/**
 * One upload by an API key, after sign-up, login and key creation. Checks the upload's trace and that
 * none of the secrets the requests carried reached a span or a log line.
 */
async function uploadIsTraced(server: SpawnedServer) {
  const email = `tracer-${Date.now()}@example.com`;
  expect(
    (await call(server, 'POST', '/v1/auth/register', { body: { email, password: PASSWORD } })).status,
  ).toBe(201);
  const login = await call(server, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  const accessToken = login.json().access_token as string;
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const key = await call(server, 'POST', '/v1/api-keys', {
    headers: { authorization: `Bearer ${accessToken}`, cookie },
    body: { name: 'tracing' },
  });
  expect(key.status, key.text).toBe(201);
  const apiKey = key.json().key as string;
  expect(apiKey).toMatch(/^sk_/);

  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(3000).fill(7)], { type: 'application/pdf' }), 'trace.pdf');
  const requestId = `upload-${Date.now()}`;
  const uploaded = await call(server, 'POST', '/v1/documents', {
    headers: { authorization: `Bearer ${apiKey}`, 'x-request-id': requestId, cookie },
    body: form,
  });
  expect(uploaded.status, uploaded.text).toBe(201);

  await receiver.waitFor(() => {
    const root = serverSpanOf(requestId);
    return root !== undefined && inTrace(root.traceId).some((span) => span.name.startsWith('S3.'));
  });
  const root = serverSpanOf(requestId)!;
  expect(root.name).toBe('POST /v1/documents');
  expect(root.parentSpanId).toBe('');
  expect(root.attributes).toMatchObject({
    'http.request.method': 'POST',
    'http.route': '/v1/documents',
    'http.response.status_code': 201,
    'url.scheme': 'http',
    'client.address': '127.0.0.1',
    'stowage.request_id': requestId,
  });
  expect(root.resource).toMatchObject({
    'service.name': 'stowage-test',
    'deployment.environment.name': 'ci',
  });

  const trace = inTrace(root.traceId);
  const ids = new Set(trace.map((span) => span.spanId));
  // Every span of the trace hangs off another span of it (or is the root).
  for (const span of trace) if (span !== root) expect(ids.has(span.parentSpanId), span.name).toBe(true);
  const db = trace.filter(
    (span) => span.attributes['db.system.name'] === 'postgresql' && span.attributes['db.query.text'],
  );
  // The upload's own statements, one round trip each (issue 18 took them from 13 to 4): take an upload
  // slot, insert the pending row (returning the quota left), mark it ready with its quota charge and
  // audit event, free the slot. Spans end in start order here: each waits for the one before.
  const text = (span: (typeof db)[number]) => String(span.attributes['db.query.text']).trim();
  const own = db.filter((span) => /rate_limits|"documents"/.test(text(span)));
  expect(own.map((span) => span.name)).toEqual(['WITH', 'INSERT', 'WITH', 'DELETE']);
  expect(text(own[0]!)).toMatch(/^with live as/);
  expect(text(own[2]!)).toMatch(/^with pending as[\s\S]*audit_append\(/);
  expect(trace.some((span) => span.name === 'transaction')).toBe(false);
  const insert = db.find((span) =>
    String(span.attributes['db.query.text']).startsWith('insert into "documents"'),
  )!;
  expect(insert.attributes['db.operation.name']).toBe('INSERT');
  expect(String(insert.attributes['db.query.text'])).toMatch(/values \(\$1, \$2/);
  const s3 = trace.filter((span) => span.name.startsWith('S3.'));
  expect(s3.map((span) => span.name)).toContain('S3.PutObject');
  expect(s3[0]!.attributes).toMatchObject({ 'rpc.system': 'aws-api', 'rpc.service': 'S3' });
  expect(trace.map((span) => span.name)).toContain('ratelimit api_key');

  // The access line and every other line of the request carry the same trace.
  const lines = server.logs.filter((line) => line.request_id === requestId);
  const access = lines.find((line) => line.msg === 'request')!;
  expect(access).toMatchObject({ trace_id: root.traceId, span_id: root.spanId, route: '/v1/documents' });
  for (const line of lines) expect(line.trace_id, JSON.stringify(line)).toBe(root.traceId);

  // Login did argon2 work in its own span.
  const loginRoot = receiver.spans.find((span) => span.name === 'POST /v1/auth/login')!;
  expect(inTrace(loginRoot.traceId).map((span) => span.name)).toContain('argon2 verify');

  const everything = JSON.stringify(receiver.spans) + JSON.stringify(server.logs);
  const apiKeySecret = apiKey.slice(3);
  for (const secret of [PASSWORD, email, accessToken, cookie.split('=')[1]!, apiKeySecret]) {
    expect(everything.includes(secret), `a span or log line contains ${secret.slice(0, 12)}…`).toBe(false);
  }
  // Headers of the exporter are sent as configured.
  expect(receiver.requests.at(-1)?.headers['x-collector-token']).toBe('otlp secret');
}

describe('tracing (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  it('an upload is one trace: server span, db statements, S3 calls, and the access line names it', async () => {
    const server = await spawnServer(tracingEnv());
    await uploadIsTraced(server);
    expect(receiver.requests.every((r) => r.path === '/v1/traces')).toBe(true);
    expect(receiver.requests.at(-1)?.contentType).toBe('application/x-protobuf');
  });

  it('a forced 500 records the exception on its span; the body reveals nothing', async () => {
    const server = await spawnServer(tracingEnv());
    const response = await call(server, 'GET', '/probe/boom', { headers: { 'x-request-id': 'boom-1' } });
    expect(response.status).toBe(500);
    expect(response.text).not.toMatch(/kaboom|db-internal|stack|Error:/);
    await receiver.waitFor(() => serverSpanOf('boom-1') !== undefined);
    const span = serverSpanOf('boom-1')!;
    expect(span.name).toBe('GET /probe/boom');
    expect(span.status.code).toBe(2); // ERROR
    expect(span.attributes['error.type']).toBe('Error');
    const exception = span.events.find((event) => event.name === 'exception')!;
    expect(exception.attributes['exception.message']).toContain('kaboom');
    expect(String(exception.attributes['exception.stacktrace'])).toContain('probe-module.ts');
    const logged = server.logs.find((line) => line.request_id === 'boom-1' && line.msg === 'unhandled error');
    expect(logged).toMatchObject({ trace_id: span.traceId, level: 'error' });
  });

  it('an unmatched path never reaches a span name', async () => {
    const server = await spawnServer(tracingEnv());
    await call(server, 'GET', '/secret-path-abc123', { headers: { 'x-request-id': 'unmatched-1' } });
    await receiver.waitFor(() => serverSpanOf('unmatched-1') !== undefined);
    const span = serverSpanOf('unmatched-1')!;
    expect(span.name).toBe('GET');
    expect(JSON.stringify(span)).not.toContain('secret-path-abc123');
  });

  it('traceparent from a trusted proxy continues the trace; from any other peer it starts a new one', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const traceparent = `00-${traceId}-${parentId}-01`;
    const trusted = await spawnServer(tracingEnv({ TRUSTED_PROXIES: '127.0.0.1/32' }));
    const untrusted = await spawnServer(tracingEnv({ TRUSTED_PROXIES: '10.0.0.0/8' }));
    await call(trusted, 'GET', '/livez', { headers: { traceparent, 'x-request-id': 'via-proxy' } });
    await call(untrusted, 'GET', '/livez', { headers: { traceparent, 'x-request-id': 'direct' } });
    await receiver.waitFor(
      () => serverSpanOf('via-proxy') !== undefined && serverSpanOf('direct') !== undefined,
    );
    expect(serverSpanOf('via-proxy')).toMatchObject({ traceId, parentSpanId: parentId });
    const fresh = serverSpanOf('direct')!;
    expect(fresh.traceId).not.toBe(traceId);
    expect(fresh.parentSpanId).toBe('');
  });

  it('spans still buffered when SIGTERM arrives are exported before the process exits', async () => {
    const server = await spawnServer(tracingEnv({ OTEL_BSP_SCHEDULE_DELAY: '600000' }));
    await call(server, 'GET', '/livez', { headers: { 'x-request-id': 'flushed-on-exit' } });
    await sleep(300);
    expect(serverSpanOf('flushed-on-exit')).toBeUndefined(); // still in the batch
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(serverSpanOf('flushed-on-exit')).toMatchObject({ name: 'GET /livez' });
  });

  it('a sampler ratio of 0 records no new trace, and log lines then carry no trace ids', async () => {
    const server = await spawnServer(tracingEnv({ OTEL_TRACES_SAMPLER_ARG: '0' }));
    const response = await call(server, 'GET', '/v1/me', { headers: { 'x-request-id': 'unsampled' } });
    expect(response.status).toBe(401);
    // The access line is written after the answer; the pipe may deliver it a moment later.
    await expect
      .poll(() => server.logs.find((l) => l.request_id === 'unsampled' && l.msg === 'request'))
      .toBeDefined();
    const line = server.logs.find((l) => l.request_id === 'unsampled' && l.msg === 'request');
    expect(line!.trace_id).toBeUndefined();
  });

  it('without an endpoint not one OpenTelemetry SDK module is loaded; with one, the SDK is', async () => {
    const sdkModules = async (env: Record<string, string>) => {
      const server = await spawnServer(env, MODULE_WATCH);
      for (let i = 0; i < 100 && !server.logs.some((l) => l.msg === 'modules loaded'); i++) await sleep(50);
      const modules = server.logs.find((l) => l.msg === 'modules loaded')!.modules as string[];
      return modules.filter((url) => /@opentelemetry\/(?!api\/)/.test(url));
    };
    expect(await sdkModules({})).toEqual([]);
    expect((await sdkModules(tracingEnv())).join('\n')).toMatch(
      /sdk-trace-base[\s\S]*exporter-trace-otlp-proto/,
    );
  });
});

describe('tracing in the production bundle', () => {
  beforeAll(() => {
    execFileSync('pnpm', ['-s', 'build'], {
      cwd: ROOT,
      stdio: 'pipe',
      env: { ...process.env, BUILD_OUTDIR: BUNDLE_DIR },
    });
  }, 120_000);
  afterAll(() => rm(new URL(`../${BUNDLE_DIR}`, import.meta.url), { recursive: true, force: true }));

  it('the built main.js exports the same trace (over OTLP/JSON)', async () => {
    const server = await spawnServer(
      tracingEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
      fileURLToPath(new URL(`../${BUNDLE_DIR}/main.js`, import.meta.url)),
    );
    const before = receiver.requests.length;
    await uploadIsTraced(server);
    expect(receiver.requests.slice(before).every((r) => r.contentType === 'application/json')).toBe(true);
  });
});
