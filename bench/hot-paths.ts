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

export type Route = {
  name: string;
  connections: number;
  run: (seconds: number) => Promise<autocannon.Result>;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The hot-path routes of the server at `url`, each with its own signed-in accounts and documents. */
export async function hotRoutes(url: string, tag: string) {
  const account = await benchAccount(url, tag);
  const auth = { authorization: `Bearer ${account.token}` };
  for (let i = 0; i < 24; i++) await uploadOnce(url, account.token, `page-${i}.txt`);
  const uploaders: Awaited<ReturnType<typeof benchAccount>>[] = [];
  for (let i = 0; i < UPLOAD_ACCOUNTS; i++) uploaders.push(await benchAccount(url, `${tag}-up${i}`));
  const upload = smallUpload('hot.txt');
  const uploads = (connections: number): Route => ({
    name: 'POST /v1/documents (1 KiB)',
    connections,
    run: (duration) => {
      let next = 0;
      return autocannon({
        url: `${url}/v1/documents`,
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
  const get = (name: string, path: string): Route => ({
    name,
    connections: CONNECTIONS,
    run: (duration) =>
      autocannon({ url: `${url}${path}`, connections: CONNECTIONS, duration, headers: auth }),
  });
  return {
    me: get('GET /v1/me', '/v1/me'),
    get: get('GET /v1/documents/{id}', `/v1/documents/${account.documentId}`),
    list: get('GET /v1/documents?limit=20', '/v1/documents?limit=20'),
    upload: uploads(CONNECTIONS),
    // Below saturation: at 50 connections the two cores (API, Postgres, s3rver and the load generator)
    // are saturated and every process's CPU per request rises with the contention.
    uploadBelowSaturation: uploads(8),
  };
}

export type Target = { label: string; pid: number; route: Route };

const measure = (target: Target, seconds: number) =>
  withCpu(target.pid, async () => {
    const result = await target.route.run(seconds);
    return {
      requests: result.requests.total,
      reqS: result.requests.average,
      p99: result.latency.p99,
      errors: result.non2xx + result.errors + result.timeouts,
      statuses: Object.keys(result.statusCodeStats ?? {}).join('/'),
    };
  });

/**
 * Every target warmed up, then `rounds` rounds in which each runs for `seconds` in turn (the order
 * rotating). Per target: median req/s and p99, CPU per request over all rounds (its server's tree).
 */
export async function interleaved(targets: Target[], rounds = ROUNDS, seconds = SECONDS) {
  const runs = new Map(targets.map((t) => [t.label, [] as Awaited<ReturnType<typeof measure>>[]]));
  for (const target of targets) await measure(target, WARM_UP_S);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length]!;
      runs.get(target.label)!.push(await measure(target, seconds));
    }
  }
  return targets.map((target) => {
    const r = runs.get(target.label)!;
    const sum = (pick: (x: (typeof r)[number]) => number) => r.reduce((n, x) => n + pick(x), 0);
    const cpu =
      sum((x) => x.cpuMs) /
      Math.max(
        1,
        sum((x) => x.requests),
      );
    return {
      label: target.label,
      cpuMs: cpu,
      row: {
        result: `${Math.round(median(r.map((x) => x.reqS)))} req/s`,
        cpu_ms: Math.round(cpu * 1000) / 1000,
        p99_ms: median(r.map((x) => x.p99)),
        errors: sum((x) => x.errors),
        note: `statuses ${[...new Set(r.map((x) => x.statuses))].join(' ')}; kernel ${Math.round((sum((x) => x.sysMs) / sum((x) => x.cpuMs)) * 100)} % of CPU; CPU ms/req per round: ${r.map((x) => x.cpuPerRequestMs.toFixed(3)).join(' ')}; req/s: ${r.map((x) => Math.round(x.reqS)).join(' ')}`,
      },
    };
  });
}

export async function hotPaths(stack: Stack) {
  const api = await startApi(stack, { WEB_CONCURRENCY: '2' });
  try {
    const routes = Object.values(await hotRoutes(api.url, 'hot'));
    const label = (route: Route) => `${route.name}, ${route.connections} conns`;
    // BENCH_HOT_ONLY=POST (a substring of the labels) narrows the rows while iterating on one path.
    const only = process.env.BENCH_HOT_ONLY;
    const targets = routes
      .map((route) => ({ label: label(route), pid: api.pid, route }))
      .filter((target) => !only || target.label.includes(only));
    return (await interleaved(targets)).map(({ label, row }) => ({
      benchmark: `hot path: ${label}, 2 workers, ${ROUNDS} × ${SECONDS} s, interleaved`,
      ...row,
    }));
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
