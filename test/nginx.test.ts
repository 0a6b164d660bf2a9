// The edge (ops/nginx/) with the real nginx (Debian's package, installed by scripts/containers.sh
// install) in front of the real app on loopback, rendered by the same start.sh the container runs.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envSchema } from '../src/config.ts';
import { freePort } from '../src/dev/free-port.ts';
import { ROOT, selfSignedCert } from './support/docker.ts';
import { edgeClient, randomBytesBuffer } from './support/edge-client.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { multipartFrame } from './support/uploads.ts';

const hasNginx = spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' }).status === 0;
if (!hasNginx && process.env.CI === 'true')
  throw new Error('CI needs nginx: run scripts/containers.sh install');

const MAX_UPLOAD = 128 * 1024 * 1024;
let server: TestServer;
let nginx: ChildProcess | undefined;
let tmp = '';
let base = '';
let ca = '';
let httpPort = 0;
let runDir = '';
const nginxOutput: string[] = [];

beforeAll(async () => {
  if (!hasNginx) return;
  server = await startTestServer({
    env: { TRUSTED_PROXIES: '127.0.0.1/32', MAX_UPLOAD_BYTES: String(MAX_UPLOAD), HSTS_MAX_AGE_S: '0' },
  });
  tmp = mkdtempSync(join(tmpdir(), 'stowage-edge-'));
  chmodSync(tmp, 0o755); // nginx workers run as nobody under a root master
  runDir = join(tmp, 'run');
  mkdirSync(runDir, { mode: 0o755 });
  const tls = selfSignedCert(tmp);
  ca = readFileSync(tls.cert, 'utf8');
  const httpsPort = await freePort();
  httpPort = await freePort();
  base = `https://localhost:${httpsPort}`;
  nginx = spawn('sh', [join(ROOT, 'ops/nginx/start.sh')], {
    env: {
      PATH: process.env.PATH,
      EDGE_CONF_DIR: join(ROOT, 'ops/nginx'),
      EDGE_RUN_DIR: runDir,
      EDGE_UPSTREAM: `127.0.0.1:${new URL(server.url).port}`,
      EDGE_HTTPS_PORT: String(httpsPort),
      EDGE_HTTP_PORT: String(httpPort),
      EDGE_TLS_CERT: tls.cert,
      EDGE_TLS_KEY: tls.key,
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      // A file: /dev/stdout cannot be opened when stdout is the socket node gives a child.
      EDGE_ACCESS_LOG: join(tmp, 'access.log'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  nginx.stdout!.on('data', (chunk: Buffer) =>
    nginxOutput.push(...chunk.toString().split('\n').filter(Boolean)),
  );
  nginx.stderr!.on('data', (chunk: Buffer) => nginxOutput.push(chunk.toString()));
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await edgeClient(base, ca)
      .call('GET', '/edge/healthz')
      .then(
        (r) => r.status,
        () => 0,
      );
    if (status === 200) return;
    if (nginx.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nginx did not start:\n${nginxOutput.join('\n')}`);
}, 60_000);

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGQUIT'); // graceful stop of the master, which stops its workers
    await once(nginx, 'exit');
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const client = () => edgeClient(base, ca);
const appLine = (requestId: string) =>
  server.logs.lines.find((line) => line.request_id === requestId && line.msg === 'request');
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe.skipIf(!hasNginx)('the nginx edge (ops/nginx/) in front of the app', () => {
  it('orders its timeouts against the app: cuts slow clients first, idles out first, outwaits the handler', () => {
    const edge = readFileSync(join(runDir, 'edge.conf'), 'utf8');
    const seconds = (pattern: RegExp) => Number(pattern.exec(edge)?.[1]);
    const app = envSchema.parse({});
    expect(seconds(/^client_header_timeout (\d+)s;/m) * 1000).toBeLessThan(app.HEADERS_TIMEOUT_MS);
    expect(seconds(/^\s+keepalive_timeout (\d+)s;/m) * 1000).toBeLessThan(app.KEEP_ALIVE_TIMEOUT_MS);
    expect(seconds(/^\s+proxy_read_timeout (\d+)s;/m) * 1000).toBeGreaterThan(app.HANDLER_TIMEOUT_MS);
    expect(edge).toMatch(new RegExp(`client_max_body_size ${MAX_UPLOAD + 1024 * 1024};`));
    expect(edge).toMatch(/proxy_request_buffering off;/);
    expect(edge).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(edge).not.toMatch(/proxy_add_x_forwarded_for/);
  });

  it('a spoofed X-Forwarded-For cannot change the client address the app sees', async () => {
    const response = await client().call('GET', '/v1/me', {
      headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1', 'x-request-id': 'edge-spoof-1' },
    });
    expect(response.status).toBe(401);
    expect(response.headers['x-request-id']).toBe('edge-spoof-1');
    await settle();
    expect(appLine('edge-spoof-1')?.client_ip).toBe('127.0.0.1');
    // Control: the same header straight from a trusted address is believed, so the overwrite is what protects.
    await fetch(`${server.url}/v1/me`, {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'direct-1' },
    });
    await settle();
    expect(appLine('direct-1')?.client_ip).toBe('203.0.113.7');
  });

  it('forwards a well-formed X-Request-ID and replaces a malformed one with its own', async () => {
    for (const bad of ['bad id!', 'x'.repeat(129), 'semi;colon']) {
      const response = await client().call('GET', '/v1/me', { headers: { 'x-request-id': bad } });
      const id = response.headers['x-request-id'] as string;
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      await settle();
      expect(appLine(id)?.client_ip).toBe('127.0.0.1');
    }
    const edgeLog = readFileSync(join(tmp, 'access.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(edgeLog.some((line) => line.request_id === 'edge-spoof-1' && line.client_ip === '127.0.0.1')).toBe(
      true,
    );
  });

  it('keeps /metrics and the probes inside, redirects plain HTTP, sends HSTS only from the edge', async () => {
    for (const path of ['/metrics', '/livez', '/readyz', '/startupz']) {
      expect((await client().call('GET', path)).status, path).toBe(404);
    }
    const problems = await client().call('GET', '/v1/me');
    expect(problems.status).toBe(401);
    expect(problems.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    const plain = await fetch(`http://127.0.0.1:${httpPort}/v1/me`, { redirect: 'manual' });
    expect(plain.status).toBe(308);
    expect(plain.headers.get('location')).toBe(`https://127.0.0.1/v1/me`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
    const h2 = await client().http2Get('/edge/healthz');
    expect(h2.alpn).toBe('h2');
  });

  it('speaks TLS 1.2/1.3 with forward-secret AEAD ciphers only', async () => {
    const port = Number(new URL(base).port);
    const handshake = (options: {
      minVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
      maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
      ciphers?: string;
    }) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...options });
        socket.on('secureConnect', () => {
          resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
          socket.end();
        });
        socket.on('error', (error) => resolve(`refused: ${error.message}`));
      });
    expect(await handshake({})).toMatch(/^TLSv1\.3 TLS_/);
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toMatch(
      /^TLSv1\.2 ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20)/,
    );
    expect(
      await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
    ).toMatch(/^refused/);
    expect(
      await handshake({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA256:ECDHE-ECDSA-AES128-SHA' }),
    ).toMatch(/^refused/);
  });

  it('cuts a slowloris client at the header timeout while serving a normal client meanwhile', async () => {
    const port = Number(new URL(base).port);
    const started = performance.now();
    const slow = Array.from({ length: 8 }, () => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
      socket.on('secureConnect', () => socket.write('GET /v1/me HTTP/1.1\r\nHost: localhost\r\n'));
      const drip = setInterval(() => socket.writable && socket.write(`X-Drip-${Date.now()}: 1\r\n`), 1000);
      return new Promise<number>((resolve) => {
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(drip);
          resolve((performance.now() - started) / 1000);
        });
        socket.resume();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const normalStarted = performance.now();
    const normal = await client().call('GET', '/v1/me');
    expect(normal.status).toBe(401); // answered by the app
    expect(performance.now() - normalStarted).toBeLessThan(2000);
    const closedAfter = await Promise.all(slow);
    for (const seconds of closedAfter) {
      expect(seconds).toBeGreaterThan(9); // client_header_timeout 10s …
      expect(seconds).toBeLessThan(14); // … and not the app's 20 s
    }
  }, 30_000);

  it('streams a 100 MiB upload: the app holds a pending document before the client has finished', async () => {
    const email = `edge-${process.pid}@example.com`;
    const password = 'correct horse battery staple';
    expect((await client().call('POST', '/v1/auth/register', { body: { email, password } })).status).toBe(
      201,
    );
    const token = JSON.parse((await client().login(email, password)).body.toString()).access_token as string;

    const size = 100 * 1024 * 1024;
    const chunk = randomBytesBuffer(1024 * 1024);
    const frame = multipartFrame('big.bin', 'application/pdf');
    const hash = createHash('sha256');
    const req = request(`${base}/v1/documents`, {
      method: 'POST',
      ca,
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': frame.contentType,
        'content-length': String(frame.head.length + size + frame.tail.length),
      },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (data: Buffer) => (body += data));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    const write = (data: Buffer) =>
      new Promise<void>((resolve) => (req.write(data) ? resolve() : req.once('drain', resolve)));
    await write(frame.head);
    for (let i = 0; i < 8; i++) {
      hash.update(chunk);
      await write(chunk);
    }
    // 8 of 100 MiB sent, the rest held back: a buffering proxy would not have passed on a byte yet.
    const sql = postgres(server.config.database.url!, { max: 1 });
    let pending = 0;
    for (let attempt = 0; attempt < 50 && pending === 0; attempt++) {
      [{ pending }] =
        (await sql`select count(*)::int as pending from documents where status = 'pending'`) as unknown as [
          { pending: number },
        ];
      if (pending === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await sql.end();
    expect(pending).toBe(1);
    for (let i = 8; i < 100; i++) {
      hash.update(chunk);
      await write(chunk);
    }
    req.end(frame.tail);
    const done = await response;
    expect(done.status, done.body).toBe(201);
    expect(JSON.parse(done.body).document).toMatchObject({ size_bytes: size, sha256: hash.digest('hex') });
  }, 120_000);

  it('refuses a body above the limit itself, before the app, with a problem', async () => {
    const response = await client().call('POST', '/v1/documents', {
      headers: {
        'content-type': 'multipart/form-data; boundary=x',
        'content-length': String(MAX_UPLOAD + 2 * 1024 * 1024),
      },
    });
    expect(response.status).toBe(413);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(response.body.toString())).toMatchObject({ status: 413 });
  });

  it('answers a burst beyond its coarse per-address limit with 429 problems', async () => {
    const responses = await Promise.all(Array.from({ length: 90 }, () => client().call('GET', '/v1/me')));
    const limited = responses.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(responses.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(40);
    expect(limited[0]!.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(limited[0]!.body.toString())).toMatchObject({
      status: 429,
      title: 'Too Many Requests',
    });
  });
});
