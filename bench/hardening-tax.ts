// (b) Hardening tax: GET /v1/documents/{id} with a session token through the whole stack, against the
// same query behind a bare Hono + postgres.js handler, both at 50 connections for 10 s (autocannon).
// (c) Limiter overhead: the same route with limits on and off, one connection, sequential requests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { freePort } from '../src/dev/free-port.ts';
import { type Stack, serverEnv } from './cold-start.ts';
import { percentiles, virtualUser } from './http.ts';
import { benchAccount, startApi } from './server.ts';

const SECONDS = Number(process.env.BENCH_TAX_S ?? 10);
const SEQUENTIAL = Number(process.env.BENCH_LIMITER_REQUESTS ?? 4000);

const throughput = async (url: string, headers: Record<string, string> = {}) => {
  const result = await autocannon({ url, connections: 50, duration: SECONDS, headers });
  return {
    reqS: Math.round(result.requests.average),
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
  };
};

async function startBare(stack: Stack, userId: string) {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-server.ts', import.meta.url))], {
    env: serverEnv(stack, port, { BENCH_USER_ID: userId }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

export async function hardeningTax(stack: Stack) {
  const api = await startApi(stack);
  const account = await benchAccount(api.url, 'tax');
  const full = await throughput(`${api.url}/v1/documents/${account.documentId}`, {
    authorization: `Bearer ${account.token}`,
  });
  await api.stop();

  const sql = postgres(stack.databaseUrl, { max: 1 });
  const [owner] = await sql`select id from users where email = ${account.email}`;
  await sql.end();
  const bare = await startBare(stack, owner!.id as string);
  const baseline = await throughput(`${bare.url}/documents/${account.documentId}`);
  bare.stop();

  return [
    {
      benchmark: `hardening tax: GET /v1/documents/{id}, 50 conns, ${SECONDS} s`,
      result: `ratio ${(full.reqS / baseline.reqS).toFixed(2)}`,
      p99_ms: full.p99,
      errors: full.non2xx,
      note: `${full.reqS} req/s vs bare Hono + postgres.js ${baseline.reqS} req/s (p99 ${baseline.p99} ms)`,
    },
  ];
}

async function sequentialLatencies(stack: Stack, limits: boolean) {
  const api = await startApi(stack, { RATE_LIMIT_ENABLED: String(limits) });
  try {
    const account = await benchAccount(api.url, limits ? 'limited' : 'unlimited');
    const user = virtualUser(api.url);
    const auth = { authorization: `Bearer ${account.token}` };
    const path = `/v1/documents/${account.documentId}`;
    for (let i = 0; i < 500; i++) await user.send('GET', path, auth); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) samples.push((await user.send('GET', path, auth)).ms);
    user.close();
    return percentiles(samples);
  } finally {
    await api.stop();
  }
}

export async function limiterOverhead(stack: Stack) {
  const off = await sequentialLatencies(stack, false);
  const on = await sequentialLatencies(stack, true);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return [
    {
      benchmark: `limiter overhead: GET /v1/documents/{id}, 1 conn, ${SEQUENTIAL} requests`,
      result: `+${round(on.p50_ms - off.p50_ms)} ms p50, +${round(on.p99_ms - off.p99_ms)} ms p99`,
      note: `limits on p50 ${on.p50_ms} / p99 ${on.p99_ms} ms; off p50 ${off.p50_ms} / p99 ${off.p99_ms} ms`,
    },
  ];
}
