// The product counters move exactly as the requests dictate (in-process server, this process's
// registry): load shedding, handler timeouts, idempotency, session cache, quota, pool size.
import { describe, expect, it } from 'vitest';
import { registry } from '../src/telemetry/metrics.ts';
import { api } from './support/api.ts';
import { startTestServer } from './support/harness.ts';
import { probeModule } from './support/probe-module.ts';
import { upload } from './support/uploads.ts';

const server = await startTestServer({
  env: { MAX_IN_FLIGHT: '2', HANDLER_TIMEOUT_MS: '1500', QUOTA_FREE_BYTES: '5000', DATABASE_POOL_MAX: '7' },
  modules: [probeModule()],
});
const client = api(server);

/** The current value of one series (0 when it does not exist yet). */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values, type } = await metric.get();
  // A histogram lists its buckets, sum and count: its count is the number of observations.
  const match = values.find(
    (v) =>
      (String(type) !== 'histogram' || (v as { metricName?: string }).metricName?.endsWith('_count')) &&
      Object.entries(labels).every(([key, wanted]) => String(v.labels[key]) === wanted),
  );
  return match?.value ?? 0;
}

/** How much each named series moved while `work` ran. */
async function delta(series: Record<string, [string, Record<string, string>?]>, work: () => Promise<void>) {
  const before = Object.fromEntries(
    await Promise.all(
      Object.entries(series).map(async ([key, [name, labels]]) => [key, await value(name, labels)]),
    ),
  );
  await work();
  return Object.fromEntries(
    await Promise.all(
      Object.entries(series).map(async ([key, [name, labels]]) => [
        key,
        (await value(name, labels)) - before[key],
      ]),
    ),
  );
}

describe('product counters', () => {
  it('shed requests and handler timeouts', async () => {
    const moved = await delta(
      {
        shed: ['stowage_http_shed_requests_total'],
        timeouts: ['stowage_http_handler_timeouts_total'],
        status503: [
          'http_server_request_duration_seconds',
          { http_route: '/probe/slow', http_response_status_code: '503' },
        ],
      },
      async () => {
        const slow = [1, 2].map(() => fetch(`${server.url}/probe/slow?ms=3000`));
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect((await fetch(`${server.url}/probe/slow?ms=0`)).status).toBe(503);
        expect((await Promise.all(slow)).map((r) => r.status)).toEqual([504, 504]);
      },
    );
    expect(moved.status503).toBe(1);
    expect(moved.shed).toBe(1);
    expect(moved.timeouts).toBe(2);
  });

  it('idempotency, session cache, uploads and quota rejections', async () => {
    const session = await client.signUp('counters');
    const token = session.accessToken;
    const headers = { cookie: session.refreshCookie };
    const moved = await delta(
      {
        executed: ['stowage_idempotency_requests_total', { outcome: 'executed' }],
        replayed: ['stowage_idempotency_requests_total', { outcome: 'replayed' }],
        conflict: ['stowage_idempotency_requests_total', { outcome: 'conflict' }],
        hits: ['stowage_session_cache_lookups_total', { outcome: 'hit' }],
        misses: ['stowage_session_cache_lookups_total', { outcome: 'miss' }],
        stored: ['stowage_uploads_total', { outcome: 'stored' }],
        quota: ['stowage_uploads_total', { outcome: 'quota_exceeded' }],
        quotaRejections: ['stowage_quota_rejections_total'],
        bytes: ['stowage_upload_bytes_total'],
      },
      async () => {
        const key = { 'idempotency-key': '"counters-1"', ...headers };
        const first = await client.call('POST', '/v1/api-keys', { token, body: { name: 'a' }, headers: key });
        expect(first.status).toBe(201);
        const again = await client.call('POST', '/v1/api-keys', { token, body: { name: 'a' }, headers: key });
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        const other = await client.call('POST', '/v1/api-keys', { token, body: { name: 'b' }, headers: key });
        expect(other.status).toBe(422);
        expect((await client.call('GET', '/v1/me', { token })).status).toBe(200);
        expect((await upload(server, token, { bytes: new Uint8Array(3000) })).status).toBe(201);
        expect((await upload(server, token, { bytes: new Uint8Array(3000) })).status).toBe(413);
      },
    );
    expect(moved).toMatchObject({
      executed: 1,
      replayed: 1,
      conflict: 1,
      stored: 1,
      quota: 1,
      quotaRejections: 1,
      bytes: 3000,
    });
    // Six session requests: the first looks the session up, the rest find it cached.
    expect(moved.hits + moved.misses).toBe(6);
    expect(moved.hits).toBeGreaterThanOrEqual(4);
    expect(await value('stowage_session_cache_listener_up')).toBe(1);
  });

  it('S3 calls are counted per API call; a presigned URL is no call', async () => {
    const session = await client.signUp('s3');
    const token = session.accessToken;
    const created = await upload(server, token, { bytes: new Uint8Array(100) });
    const path = `/v1/documents/${created.body!.document.id}/content`;
    const moved = await delta(
      { get: ['stowage_s3_operation_duration_seconds', { operation: 'GetObject', outcome: 'ok' }] },
      async () => {
        const presigned = await fetch(`${server.url}${path}?redirect=true`, {
          headers: { authorization: `Bearer ${token}` },
          redirect: 'manual',
        });
        expect(presigned.status).toBe(302);
        const direct = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect(direct.status).toBe(200);
        await direct.arrayBuffer();
      },
    );
    expect(moved.get).toBe(1);
  });

  it('the pool gauges know DATABASE_POOL_MAX and that nothing waits when idle', async () => {
    expect(await value('db_client_connection_max')).toBe(7);
    expect(await value('db_client_connection_pending_requests')).toBe(0);
    // Idle: once the last request's statements have settled, none holds a connection.
    let used = -1;
    for (let i = 0; i < 40 && used !== 0; i++) {
      used = await value('db_client_connection_count', { db_client_connection_state: 'used' });
      if (used !== 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(used).toBe(0);
  });
});
