// `pnpm bench:profile <route> [seconds]`: one server from source (a single process; the bundle would hide
// which package a function is in) under `node --cpu-prof`, 50 connections on one hot path, then where its CPU went: self time by function and by package.
// Routes: me, get, list, upload. The .cpuprofile is kept for Chrome DevTools / speedscope.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { migrateDatabase } from '../src/db/migrations.ts';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.ts';
import { startEmbeddedS3 } from '../src/dev/embedded-s3.ts';
import { freePort } from '../src/dev/free-port.ts';
import { serverEnv } from './cold-start.ts';
import { BENCH_LIMITS, benchAccount, smallUpload } from './server.ts';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
};
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const [route = 'get', seconds = '10'] = process.argv.slice(2);
const dir = await mkdtemp(join(tmpdir(), 'stowage-profile-'));
await chmod(dir, 0o755); // initdb runs as postgres when we are root
const pg = await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: await freePort() });
const s3 = await startEmbeddedS3({ dir: join(dir, 's3'), port: await freePort(), buckets: ['bench'] });
try {
  await pg.ensureDatabase('bench');
  await migrateDatabase(pg.url('bench'));
  const stack = { databaseUrl: pg.url('bench'), s3Endpoint: s3.endpoint, bucket: 'bench' };
  const port = await freePort();
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`, 'src/main.ts'], {
    env: serverEnv(stack, port, { LOG_LEVEL: 'info', SERVER_TIMING: 'false', ...BENCH_LIMITS }),
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  while (
    !(await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  )
    await sleep(20);
  const account = await benchAccount(url, 'profile');
  const auth = { authorization: `Bearer ${account.token}` };
  const upload = smallUpload('profile.txt');
  const options: autocannon.Options = {
    me: { url: `${url}/v1/me`, headers: auth },
    get: { url: `${url}/v1/documents/${account.documentId}`, headers: auth },
    list: { url: `${url}/v1/documents?limit=20`, headers: auth },
    // 4 connections: uploads_in_flight allows 4 per account.
    upload: {
      url: `${url}/v1/documents`,
      method: 'POST' as const,
      body: upload.body,
      headers: { ...auth, 'content-type': upload.contentType },
      connections: 4,
    },
  }[route] ?? { url: '' };
  if (route === 'list')
    for (let i = 0; i < 24; i++)
      await fetch(`${url}/v1/documents`, {
        method: 'POST',
        headers: { ...auth, 'content-type': upload.contentType },
        body: upload.body,
      });
  const result = await autocannon({ connections: 50, duration: Number(seconds), ...options });
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  const file = join(dir, 'prof', (await readdir(join(dir, 'prof')))[0]!);
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  summarise(profile, result.requests.total, file);
} finally {
  await Promise.allSettled([s3.stop(), pg.stop()]);
  await rm(join(dir, 'pg'), { recursive: true, force: true });
  await rm(join(dir, 's3'), { recursive: true, force: true });
}

/** The package (or our directory) a script URL belongs to, for grouping. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName; // native frames: (garbage collector), writeBuffer, …
  if (url.startsWith('node:')) return 'node: (built-ins)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url)?.[1];
  return (
    pkg ??
    url
      .replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
      .split('/')
      .slice(0, 2)
      .join('/')
  );
}

// The V8 profiler samples the main thread at wall-clock intervals: time the thread spent descheduled
// inside a call (a socket write that woke Postgres on this 2-core VM) counts as that call's. The
// bench's CPU figures come from /proc; this says where the main thread's share goes.
function summarise(profile: Profile, requests: number, file: string) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const where = url
      .replace(/^file:\/\/.*?node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
      .replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
    const fn = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const perRequest = (us: number) => (us / 1000 / requests).toFixed(4);
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({
        name,
        ms_per_req: perRequest(us),
        share: `${((us / busy) * 100).toFixed(1)} %`,
      }));
  console.log(
    `${route}: ${requests} requests, ${perRequest(busy)} ms of sampled main-thread time per request`,
  );
  console.table(top(byPackage, 15));
  console.table(top(byFunction, 30));
  console.log(`profile: ${file}`);
}
