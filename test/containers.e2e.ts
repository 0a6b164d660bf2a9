// The image and the hardened run (issue 15): Containerfile built unchanged on locally made base images
// (scripts/containers.sh), then run the way production runs it and checked from outside; then the
// compose stack through the TLS edge and the backup → wipe → restore drill, on the same engine.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCiImages,
  buildImage,
  containersScript,
  docker,
  json,
  jsonLines,
  must,
  productionSecrets,
  run,
} from './support/docker.ts';
import { edgeClient, randomBytesBuffer, sha256 } from './support/edge-client.ts';
import { IMAGE, inspect, PROJECT, prepareStack, projectContainers, type Stack } from './support/stack.ts';

const suffix = `${process.pid}`;
const NET = `stowage-hardened-${suffix}`;
const names = { pg: `hardened-pg-${suffix}`, s3: `hardened-s3-${suffix}`, api: `hardened-api-${suffix}` };
let tmp = '';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'stowage-image-'));
  containersScript('install');
  containersScript('start');
  const basesStarted = performance.now();
  containersScript('bases');
  const bases = (performance.now() - basesStarted) / 1000;
  // The app image and the CI stand-ins only share the base images: build them side by side.
  const [image, ci] = await Promise.all([buildImage(IMAGE), buildCiImages()]);
  console.info(
    `[containers] base images ${bases.toFixed(0)} s; then side by side: app image ${image.toFixed(0)} s, CI stand-ins ${ci.toFixed(0)} s`,
  );
}, 1_200_000);

afterAll(() => {
  run('docker', ['rm', '-f', ...Object.values(names)]);
  run('docker', ['network', 'rm', NET]);
  if (stack) stack.composeRun('down', '-v', '--remove-orphans', '-t', '5');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  // Stopping the engine cleanly removes its bridges and iptables rules.
  if (process.env.CONTAINERS_KEEP !== '1') containersScript('stop');
}, 120_000);

let stack: Stack | undefined;

describe('the container image', () => {
  it('carries only the runtime: no build tools, package managers, caches or secrets in any layer', () => {
    const bytes = Number(docker('image', 'inspect', '-f', '{{.Size}}', IMAGE));
    console.info(`[containers] image ${IMAGE}: ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
    expect(bytes).toBeLessThan(350 * 1024 * 1024);

    const config = JSON.parse(docker('image', 'inspect', IMAGE))[0].Config;
    expect(config.User).toBe('1000:1000');
    expect(config.StopSignal).toBe('SIGTERM');
    expect(config.Cmd).toEqual(['node', '--max-semi-space-size=8', 'dist/main.js']);
    expect(config.Healthcheck.Test.join(' ')).not.toMatch(/curl|wget/);
    expect(config.Labels).toMatchObject({
      'org.opencontainers.image.version': '0.1.0-ci',
      'org.opencontainers.image.revision': 'ci',
      'org.opencontainers.image.source': expect.stringMatching(/^https:\/\//),
    });
    expect(JSON.stringify(config.Env)).not.toMatch(/SECRET|PASSWORD|TOKEN|NODE_EXTRA_CA_CERTS/);

    // Every layer's command: the CA build secret is mounted, never copied or echoed into one.
    const history = docker('history', '--no-trunc', '--format', '{{.CreatedBy}}', IMAGE);
    expect(history).not.toMatch(/BEGIN CERTIFICATE|ca-certificates\.crt|npm_ca,src|COPY[^\n]*\.env\b/);

    // The file system as shipped (every layer flattened): what a shell inside would find.
    const listing = run('docker', [
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      IMAGE,
      '-c',
      [
        'for p in /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn',
        ' /usr/local/lib/node_modules /usr/bin/gcc /usr/bin/make /usr/bin/g++ /usr/bin/python3 /usr/bin/git',
        ' /root/.npm /root/.cache /pnpm /app/src /app/.env /app/pnpm-lock.yaml /run/secrets/npm_ca; do',
        ' [ -e "$p" ] && echo "present: $p"; done;',
        ' find / -xdev \\( -name "*.pem" -path "*secret*" -o -name ".npmrc" -o -name "_cacache" -o -name ".pnpm-store" \\) 2>/dev/null;',
        ' ls /app; ls /app/node_modules /app/node_modules/@node-rs /app/node_modules/@scalar',
      ].join(''),
    ]);
    expect(listing.stdout).not.toContain('present:');
    expect(listing.stdout).not.toMatch(/_cacache|\.pnpm-store|\.npmrc/);
    expect(listing.stdout.split('\n').slice(0, 5)).toEqual(
      expect.arrayContaining(['dist', 'drizzle', 'node_modules', 'package.json']),
    );
    expect(listing.stdout).toMatch(/argon2-linux-x64-gnu/);
  });

  it('runs read-only, uid 1000, no capabilities: /readyz 200 from outside, healthy, SIGTERM → exit 0 in the grace period', async () => {
    const secrets = productionSecrets();
    docker('network', 'create', NET);
    docker(
      'run',
      '-d',
      '--name',
      names.pg,
      '--network',
      NET,
      '--network-alias',
      'postgres',
      '-e',
      `POSTGRES_USER=stowage`,
      '-e',
      `POSTGRES_PASSWORD=${secrets.POSTGRES_PASSWORD}`,
      '-e',
      'POSTGRES_DB=stowage',
      'stowage-ci/postgres:local',
    );
    docker(
      'run',
      '-d',
      '--name',
      names.s3,
      '--network',
      NET,
      '--network-alias',
      's3',
      '-e',
      `S3_ACCESS_KEY_ID=${secrets.S3_ACCESS_KEY_ID}`,
      '-e',
      `S3_SECRET_ACCESS_KEY=${secrets.S3_SECRET_ACCESS_KEY}`,
      '-e',
      'S3_BUCKET=stowage',
      'stowage-ci/s3:local',
    );
    const env = {
      DATABASE_URL: `postgres://stowage:${secrets.POSTGRES_PASSWORD}@postgres:5432/stowage`,
      S3_ENDPOINT: 'http://s3:9000',
      S3_ACCESS_KEY_ID: secrets.S3_ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: secrets.S3_SECRET_ACCESS_KEY,
      JWT_SIGNING_KEY: secrets.JWT_SIGNING_KEY,
      SMTP_URL: secrets.SMTP_URL,
      PUBLIC_URL: 'https://stowage.example.com',
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
    const hardened = [
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--cap-drop',
      'ALL',
      '--user',
      '1000:1000',
      '--security-opt',
      'no-new-privileges',
      '--network',
      NET,
    ];

    // The migrate job: same image, other command; it waits for nothing, so retry while Postgres starts.
    let migrated = run('docker', []);
    for (let attempt = 0; attempt < 30; attempt++) {
      migrated = run('docker', ['run', '--rm', ...hardened, ...envArgs, IMAGE, 'node', 'dist/migrate.js']);
      if (migrated.status === 0) break;
      await sleep(1000);
    }
    expect(migrated.stderr).toMatch(/migrations applied/);
    expect(migrated.status).toBe(0);

    docker(
      'run',
      '-d',
      '--name',
      names.api,
      ...hardened,
      ...envArgs,
      '-p',
      '127.0.0.1::3000',
      '--health-interval',
      '2s',
      IMAGE,
    );
    const port = docker('port', names.api, '3000/tcp').split('\n')[0]!.split(':').pop();
    let ready = 0;
    for (let attempt = 0; attempt < 60 && ready !== 200; attempt++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await sleep(500);
    }
    expect(ready).toBe(200);

    // From outside the container: the process table, the kernel's view of its capabilities, its writes.
    const top = docker('top', names.api, '-eo', 'pid,uid,args');
    expect(top).toMatch(/^\s*\d+\s+1000\s+node --max-semi-space-size=8 dist\/main\.js/m);
    const status = docker('exec', names.api, 'cat', '/proc/1/status');
    expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
    expect(status).toMatch(/^CapPrm:\s+0000000000000000$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    const write = (path: string) =>
      run('docker', [
        'exec',
        names.api,
        'node',
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(path)}, 'x')`,
      ]);
    expect(write('/tmp/ok').status).toBe(0);
    for (const path of ['/app/dist/main.js', '/app/x', '/etc/x', '/home/node/x']) {
      const attempt = write(path);
      expect(attempt.status, path).not.toBe(0);
      expect(attempt.stderr, path).toMatch(/EROFS|EACCES/);
    }

    // The image's HEALTHCHECK (node + fetch, no curl) turns the container healthy.
    let health = '';
    for (let attempt = 0; attempt < 40 && health !== 'healthy'; attempt++) {
      health = docker('inspect', '-f', '{{.State.Health.Status}}', names.api);
      if (health !== 'healthy') await sleep(500);
    }
    expect(health).toBe('healthy');

    const stopStarted = performance.now();
    docker('stop', '-t', '30', names.api); // STOPSIGNAL SIGTERM, SIGKILL only after 30 s
    const stopSeconds = (performance.now() - stopStarted) / 1000;
    const state = JSON.parse(docker('inspect', '-f', '{{json .State}}', names.api));
    console.info(`[containers] SIGTERM → exit ${state.ExitCode} in ${stopSeconds.toFixed(1)} s`);
    expect(state.ExitCode).toBe(0);
    expect(state.OOMKilled).toBe(false);
    expect(stopSeconds).toBeLessThan(15);
    docker('rm', '-f', ...Object.values(names));
    docker('network', 'rm', NET);
  }, 180_000);

  it('compose.yml and the CI override render cleanly (docker compose config)', () => {
    for (const files of [
      ['-f', 'compose.yml'],
      ['-f', 'compose.yml', '-f', 'compose.ci.yml'],
    ]) {
      const result = run('docker', ['compose', '--env-file', '.env.example', ...files, 'config', '-q']);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
    expect(existsSync('ops/compose.observability.yml')).toBe(true);
  });
});

describe('the compose stack (compose.yml + compose.ci.yml) through the TLS edge', () => {
  const email = `alice-${process.pid}@example.com`;
  const password = 'correct horse battery staple';
  let token = '';
  const docs: { id: string; sha256: string }[] = [];
  const s = () => stack!;
  const client = () => edgeClient(s().url, s().ca);

  it('up --wait: migrate exits 0 before any api starts; every service hardened and healthy', async () => {
    stack = await prepareStack(tmp);
    const started = performance.now();
    s().compose('up', '-d', '--wait', '--wait-timeout', '180', ...s().services);
    console.info(`[containers] compose up --wait: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    const containers = projectContainers().map((c) => ({ ...c, info: inspect(c.id) }));
    const migrate = containers.filter((c) => c.service === 'migrate');
    expect(migrate).toHaveLength(1);
    expect(migrate[0]!.info.State.ExitCode).toBe(0);
    const migrated = Date.parse(migrate[0]!.info.State.FinishedAt);
    const apis = containers.filter((c) => c.service === 'api');
    expect(apis).toHaveLength(2);
    for (const api of apis) {
      expect(Date.parse(api.info.State.StartedAt)).toBeGreaterThan(migrated);
      expect(api.info.State.Health.Status).toBe('healthy');
    }
    for (const c of containers) {
      expect(c.info.HostConfig.ReadonlyRootfs, c.service).toBe(true);
      expect(c.info.HostConfig.CapDrop, c.service).toEqual(['ALL']);
      expect(c.info.HostConfig.SecurityOpt, c.service).toContain('no-new-privileges:true');
      if (c.service !== 's3') expect(c.info.Config.User, c.service).not.toMatch(/^(root|0)?(:|$)/);
    }
  }, 300_000);

  it('serves register → login → 5 MiB upload → download over TLS and HTTP/2; probes and /metrics stay inside', async () => {
    const h2 = await client().http2Get('/edge/healthz');
    expect(h2.alpn).toBe('h2');
    expect(h2.status).toBe(200);
    expect(h2.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    for (const path of ['/metrics', '/readyz', '/livez', '/startupz']) {
      expect((await client().call('GET', path)).status, path).toBe(404);
    }

    const registered = await client().call('POST', '/v1/auth/register', { body: { email, password } });
    expect(registered.status, registered.body.toString()).toBe(201);
    // HSTS from the edge only: the app behind it sends none of its own (a single header value).
    expect(registered.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    const login = await client().login(email, password);
    expect(login.status).toBe(200);
    token = json(login).access_token;

    const bytes = randomBytesBuffer(5 * 1024 * 1024);
    const uploaded = await client().upload(token, bytes, 'five.pdf');
    expect(uploaded.status, uploaded.body.toString()).toBe(201);
    expect(uploaded.json.sha256).toBe(sha256(bytes));
    docs.push({ id: uploaded.json.id, sha256: uploaded.json.sha256 });
    const download = await client().downloadHash(token, uploaded.json.id);
    expect(download).toEqual({ status: 200, sha256: sha256(bytes), bytes: bytes.length });
  }, 120_000);

  it("the api sees the real client address and the edge's request id, whatever the client claims", async () => {
    const spoofed = await client().call('GET', '/v1/me', {
      token,
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': `smoke-${process.pid}` },
    });
    expect(spoofed.status).toBe(200);
    expect(spoofed.headers['x-request-id']).toBe(`smoke-${process.pid}`);
    const malformed = await client().call('GET', '/v1/me', { token, headers: { 'x-request-id': 'bad id!' } });
    const generated = malformed.headers['x-request-id'] as string;
    expect(generated).toMatch(/^[0-9a-f]{32}$/); // nginx's $request_id

    await new Promise((resolve) => setTimeout(resolve, 500)); // log lines reach the engine
    const edgeLog = jsonLines(s().compose('logs', '--no-color', '--no-log-prefix', 'edge'));
    const apiLog = jsonLines(s().compose('logs', '--no-color', '--no-log-prefix', 'api'));
    const seenByEdge = edgeLog.find((line) => line.request_id === `smoke-${process.pid}`);
    const seenByApi = apiLog.find(
      (line) => line.request_id === `smoke-${process.pid}` && line.msg === 'request',
    );
    expect(seenByEdge?.client_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(seenByApi?.client_ip).toBe(seenByEdge?.client_ip);
    expect(seenByApi?.client_ip).not.toBe('203.0.113.7');
    expect(seenByApi?.client_ip).not.toBe('10.213.200.10'); // the edge itself
    expect(apiLog.some((line) => line.request_id === generated && line.msg === 'request')).toBe(true);
  }, 60_000);

  it("rate-limits logins per client address with the app's 429 problem", async () => {
    let limited: Awaited<ReturnType<ReturnType<typeof client>['login']>> | undefined;
    for (let attempt = 0; attempt < 12 && !limited; attempt++) {
      const response = await client().login(email, password);
      if (response.status === 429) limited = response;
      else expect(response.status).toBe(200);
    }
    expect(limited?.headers['content-type']).toBe('application/problem+json');
    expect(json(limited!)).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
  }, 60_000);

  it('backup → wipe → restore: every document matches its sha256, the audit chain verifies, logins work, later documents are gone', async () => {
    const small = Buffer.from('a second document, restored byte for byte\n');
    const second = await client().upload(token, small, 'notes.txt', 'text/plain');
    expect(second.status).toBe(201);
    docs.push({ id: second.json.id, sha256: second.json.sha256 });

    const started = performance.now();
    const id = must('bash', ['ops/backup/backup.sh', ...s().args], { timeoutMs: 300_000 }).trim();
    const manifest = JSON.parse(readFileSync(join(s().backups, id, 'manifest.json'), 'utf8'));
    expect(manifest.objects.map((o: { sha256: string }) => o.sha256).sort()).toEqual(
      docs.map((d) => d.sha256).sort(),
    );
    console.info(`[containers] backup ${id}: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const later = await client().upload(
      token,
      Buffer.from('written after the backup\n'),
      'later.txt',
      'text/plain',
    );
    expect(later.status).toBe(201);

    // Wipe: stop the app, drop both stores' volumes, start them empty.
    s().compose('stop', '-t', '10', 'edge', 'api', ...(s().services.includes('worker') ? ['worker'] : []));
    s().compose('rm', '-f', '-s', 'postgres', 's3');
    docker('volume', 'rm', `${PROJECT}_pgdata`, `${PROJECT}_s3data`);
    s().compose('up', '-d', '--wait', 'postgres', 's3');
    const tables = s().compose(
      'exec',
      '-T',
      'postgres',
      'psql',
      '-U',
      'stowage',
      '-d',
      'stowage',
      '-tAc',
      "select count(*) from pg_tables where schemaname = 'public'",
    );
    expect(tables.trim()).toBe('0');

    const restoreStarted = performance.now();
    must('bash', ['ops/backup/restore.sh', id, ...s().args], { timeoutMs: 300_000 });
    s().compose('up', '-d', '--wait', '--wait-timeout', '180', ...s().services);
    console.info(
      `[containers] restore + restart: ${((performance.now() - restoreStarted) / 1000).toFixed(1)} s`,
    );

    const login = await client().login(email, password);
    expect(login.status).toBe(200);
    token = json(login).access_token;
    const listed = json(await client().call('GET', '/v1/documents?limit=100', { token }));
    expect(listed.data.map((d: { id: string }) => d.id).sort()).toEqual(docs.map((d) => d.id).sort());
    expect((await client().call('GET', `/v1/documents/${later.json.id}`, { token })).status).toBe(404);
    for (const doc of docs) {
      const download = await client().downloadHash(token, doc.id);
      expect(download.status).toBe(200);
      expect(download.sha256).toBe(doc.sha256);
    }
    const audit = s().composeRun('run', '--rm', '--no-deps', 'migrate', 'node', 'dist/audit-verify.js');
    expect(audit.status, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true });

    // Both restore steps refuse a store that is not empty.
    const again = run('bash', ['ops/backup/restore.sh', id, ...s().args], { timeoutMs: 120_000 });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/is not empty/);
  }, 600_000);

  it('docker compose down leaves nothing running', () => {
    s().compose('down', '-v', '--remove-orphans', '-t', '10');
    expect(projectContainers()).toEqual([]);
    expect(docker('network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`)).toBe('');
    expect(docker('ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`)).toBe('');
  }, 120_000);
});
