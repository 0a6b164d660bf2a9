// (g) CPU per request on the hot paths: GET /v1/me, GET /v1/documents/{id}, GET /v1/documents?limit=20
// and a 1 KiB upload, on one server of two workers (WEB_CONCURRENCY=2) at 50 connections. The routes take
// turns in every round (order rotating); CPU is the whole process tree's (primary + workers) over all
// rounds ÷ the requests answered, req/s and p99 are medians of the rounds.
import autocannon from 'autocannon';
import type { Stack } from './cold-start.ts';
import { withCpu } from './cpu.ts';
import { benchAccount, smallUpload, startApi } from './server.ts';

const SECONDS = Number(process.env.BENCH_HOT_S ?? 4);
const ROUNDS = Number(process.env.BENCH_HOT_ROUNDS ?? 5);
const WARM_UP_S = 2;
const CONNECTIONS = 50;
/** uploads_in_flight allows 4 per account: 50 upload connections spread over 13 accounts. */
const UPLOAD_ACCOUNTS = Math.ceil(CONNECTIONS / 4);

type Route = { name: string; connections: number; run: (seconds: number) => Promise<autocannon.Result> };

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function hotPaths(stack: Stack) {
  const api = await startApi(stack, { WEB_CONCURRENCY: '2' });
  try {
    const account = await benchAccount(api.url, 'hot');
    const auth = { authorization: `Bearer ${account.token}` };
    for (let i = 0; i < 24; i++) await uploadOnce(api.url, account.token, `page-${i}.txt`);
    const uploaders: Awaited<ReturnType<typeof benchAccount>>[] = [];
    for (let i = 0; i < UPLOAD_ACCOUNTS; i++) uploaders.push(await benchAccount(api.url, `hot-up${i}`));
    const upload = smallUpload('hot.txt');
    const uploads = (connections: number): Route => ({
      name: 'POST /v1/documents (1 KiB)',
      connections,
      run: (duration) => {
        let next = 0;
        return autocannon({
          url: `${api.url}/v1/documents`,
          method: 'POST',
          connections,
          duration,
          body: upload.body,
          headers: { 'content-type': upload.contentType },
          setupClient: (client) => {
            const token = uploaders[next++ % uploaders.length]!.token;
            client.setHeaders({ 'content-type': upload.contentType, authorization: `Bearer ${token}` });
          },
        });
      },
    });
    const get = (path: string) => (duration: number) =>
      autocannon({ url: `${api.url}${path}`, connections: CONNECTIONS, duration, headers: auth });
    const routes: Route[] = [
      { name: 'GET /v1/me', connections: CONNECTIONS, run: get('/v1/me') },
      {
        name: 'GET /v1/documents/{id}',
        connections: CONNECTIONS,
        run: get(`/v1/documents/${account.documentId}`),
      },
      { name: 'GET /v1/documents?limit=20', connections: CONNECTIONS, run: get('/v1/documents?limit=20') },
      uploads(CONNECTIONS),
      // Below saturation: at 50 connections the two cores (API, Postgres, s3rver and the load generator)
      // are saturated and every process's CPU per request rises with the contention.
      uploads(8),
    ];
    // BENCH_HOT_ONLY=upload (a substring of the route names) narrows the rows while iterating on one path.
    const only = process.env.BENCH_HOT_ONLY;
    if (only) routes.splice(0, routes.length, ...routes.filter((r) => key(r).includes(only)));
    const key = (route: Route) => `${route.name}, ${route.connections} conns`;
    const runs = new Map(routes.map((r) => [key(r), [] as Awaited<ReturnType<typeof measure>>[]]));
    const measure = (route: Route, seconds: number) =>
      withCpu(api.pid, async () => {
        const result = await route.run(seconds);
        return {
          requests: result.requests.total,
          reqS: result.requests.average,
          p99: result.latency.p99,
          errors: result.non2xx + result.errors + result.timeouts,
          statuses: Object.keys(result.statusCodeStats ?? {}).join('/'),
        };
      });
    for (const route of routes) await measure(route, WARM_UP_S);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < routes.length; i++) {
        const route = routes[(i + round) % routes.length]!;
        runs.get(key(route))!.push(await measure(route, SECONDS));
      }
    }
    return routes.map((route) => {
      const r = runs.get(key(route))!;
      const cpu =
        r.reduce((n, x) => n + x.cpuMs, 0) /
        Math.max(
          1,
          r.reduce((n, x) => n + x.requests, 0),
        );
      return {
        benchmark: `hot path: ${key(route)}, 2 workers, ${ROUNDS} × ${SECONDS} s, interleaved`,
        result: `${Math.round(median(r.map((x) => x.reqS)))} req/s`,
        cpu_ms: Math.round(cpu * 1000) / 1000,
        p99_ms: median(r.map((x) => x.p99)),
        errors: r.reduce((n, x) => n + x.errors, 0),
        note: `statuses ${[...new Set(r.map((x) => x.statuses))].join(' ')}; kernel ${Math.round((r.reduce((n, x) => n + x.sysMs, 0) / r.reduce((n, x) => n + x.cpuMs, 0)) * 100)} % of CPU; CPU ms/req per round: ${r.map((x) => x.cpuPerRequestMs.toFixed(3)).join(' ')}; req/s: ${r.map((x) => Math.round(x.reqS)).join(' ')}`,
      };
    });
  } finally {
    await api.stop();
  }
}

async function uploadOnce(url: string, token: string, name: string) {
  const upload = smallUpload(name);
  const response = await fetch(`${url}/v1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': upload.contentType },
    body: upload.body,
  });
  if (response.status !== 201) throw new Error(`set-up upload: ${response.status}`);
}
