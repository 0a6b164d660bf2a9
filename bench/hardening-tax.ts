// (b) Hardening tax: GET /v1/documents/{id} with a session token through the whole stack, against the
// same query behind a bare Hono + postgres.js handler, at 50 connections (autocannon), each server with
// two workers. Both are warmed up first (the first seconds run unoptimised code), then run in
// alternating rounds and the median ratio is reported: on a shared 2-core VM one pair of runs can be
// ±20 % apart for identical code. CPU per request (each server's whole process tree) is the steadier
// figure of the two.
// (c) Limiter overhead: the same route on a server with limits on and one with them off, one connection
// each, sequential requests taking turns between the two.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { freePort } from '../src/dev/free-port.ts';
import { type Stack, serverEnv } from './cold-start.ts';
import { treeCpuMs, withCpu } from './cpu.ts';
import { percentiles, virtualUser } from './http.ts';
import { benchAccount, startApi } from './server.ts';

const SECONDS = Number(process.env.BENCH_TAX_S ?? 4);
const ROUNDS = 5;
const WARM_UP_S = 3;
const SEQUENTIAL = Number(process.env.BENCH_LIMITER_REQUESTS ?? 4000);

const WORKERS = '2';

const throughput = (pid: number, url: string, headers: Record<string, string> = {}, duration = SECONDS) =>
  withCpu(pid, async () => {
    const result = await autocannon({ url, connections: 50, duration, headers });
    return {
      requests: result.requests.total,
      reqS: Math.round(result.requests.average),
      p99: result.latency.p99,
      non2xx: result.non2xx + result.errors,
    };
  });

async function startBare(stack: Stack, userId: string) {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-server.ts', import.meta.url))], {
    env: serverEnv(stack, port, { BENCH_USER_ID: userId, BENCH_WORKERS: WORKERS }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

export async function hardeningTax(stack: Stack) {
  const api = await startApi(stack, { WEB_CONCURRENCY: WORKERS });
  const account = await benchAccount(api.url, 'tax');
  const sql = postgres(stack.databaseUrl, { max: 1 });
  const [owner] = await sql`select id from users where email = ${account.email}`;
  await sql.end();
  const bare = await startBare(stack, owner!.id as string);
  type Run = Awaited<ReturnType<typeof throughput>>;
  const rounds: { full: Run; baseline: Run; ratio: number }[] = [];
  const fullRun = (duration?: number) =>
    throughput(
      api.pid,
      `${api.url}/v1/documents/${account.documentId}`,
      { authorization: `Bearer ${account.token}` },
      duration,
    );
  const bareRun = (duration?: number) =>
    throughput(bare.pid, `${bare.url}/documents/${account.documentId}`, {}, duration);
  try {
    await fullRun(WARM_UP_S);
    await bareRun(WARM_UP_S);
    for (let round = 0; round < ROUNDS; round++) {
      const full = await fullRun();
      const baseline = await bareRun();
      rounds.push({ full, baseline, ratio: full.reqS / baseline.reqS });
    }
  } finally {
    bare.stop();
    await api.stop();
  }
  const cpu = (side: 'full' | 'baseline') =>
    rounds.reduce((n, r) => n + r[side].cpuMs, 0) / rounds.reduce((n, r) => n + r[side].requests, 0);
  const p99s = rounds.map((r) => r.full.p99).sort((a, b) => a - b);
  rounds.sort((a, b) => a.ratio - b.ratio);
  const median = rounds[Math.floor(rounds.length / 2)]!;
  return [
    {
      benchmark: `hardening tax: GET /v1/documents/{id}, 2 workers each, 50 conns, ${ROUNDS} × ${SECONDS} s each`,
      result: `ratio ${median.ratio.toFixed(2)} (median)`,
      cpu_ms: Math.round(cpu('full') * 1000) / 1000,
      p99_ms: p99s[Math.floor(p99s.length / 2)],
      errors: rounds.reduce((n, r) => n + r.full.non2xx, 0),
      note: `${median.full.reqS} vs bare Hono + postgres.js ${median.baseline.reqS} req/s; CPU ms/req ${cpu('full').toFixed(3)} vs bare ${cpu('baseline').toFixed(3)} (ratio ${(cpu('baseline') / cpu('full')).toFixed(2)}); rounds, sorted: ${rounds.map((r) => r.ratio.toFixed(2)).join(' ')}`,
    },
  ];
}

/** One signed-in client of a server started with limits on or off. */
async function limiterClient(stack: Stack, limits: boolean) {
  const api = await startApi(stack, { RATE_LIMIT_ENABLED: String(limits) });
  const account = await benchAccount(api.url, limits ? 'limited' : 'unlimited');
  const user = virtualUser(api.url);
  const auth = { authorization: `Bearer ${account.token}` };
  const path = `/v1/documents/${account.documentId}`;
  return {
    pid: api.pid,
    get: async () => (await user.send('GET', path, auth)).ms,
    stop: async () => {
      user.close();
      await api.stop();
    },
  };
}

// Both servers run at once and take turns, one request each: the VM's speed drifts by tens of percent
// within minutes, and two back-to-back runs would measure that drift as much as the limiter.
export async function limiterOverhead(stack: Stack) {
  const off = await limiterClient(stack, false);
  const on = await limiterClient(stack, true);
  const samples = { on: [] as number[], off: [] as number[] };
  const cpu = { on: 0, off: 0 };
  try {
    for (let i = 0; i < 500; i++) await Promise.all([off.get(), on.get()]); // warm-up
    cpu.off = await treeCpuMs(off.pid);
    cpu.on = await treeCpuMs(on.pid);
    for (let i = 0; i < SEQUENTIAL; i++) {
      samples.off.push(await off.get());
      samples.on.push(await on.get());
    }
    cpu.off = ((await treeCpuMs(off.pid)) - cpu.off) / SEQUENTIAL;
    cpu.on = ((await treeCpuMs(on.pid)) - cpu.on) / SEQUENTIAL;
  } finally {
    await Promise.all([off.stop(), on.stop()]);
  }
  const [withLimits, without] = [percentiles(samples.on), percentiles(samples.off)];
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return [
    {
      benchmark: `limiter overhead: GET /v1/documents/{id}, 1 conn each, ${SEQUENTIAL} requests each, interleaved`,
      result: `+${round(withLimits.p50_ms - without.p50_ms)} ms p50, +${round(withLimits.p99_ms - without.p99_ms)} ms p99`,
      cpu_ms: round(cpu.on),
      note: `CPU ms/req ${round(cpu.on)} on vs ${round(cpu.off)} off; limits on p50 ${withLimits.p50_ms} / p99 ${withLimits.p99_ms} ms; off p50 ${without.p50_ms} / p99 ${without.p99_ms} ms`,
    },
  ];
}
