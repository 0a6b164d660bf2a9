// (a) The session mix: 50 virtual users, each signs in once (like a Locust user's on_start), then loops
// list → get → upload(1 KiB) for the duration, against one server of two workers (WEB_CONCURRENCY=2).
// Per endpoint and overall: req/s, p50/p95/p99, errors; overall, the server's CPU per request. Closed
// loop (no pause), 50 users saturate two cores whatever the API does: a throughput figure. The latency
// SLA is the paced mix's.
// `paced` adds a Locust-style wait_time between(0.5, 1.5) s after each loop, and starts each user at a
// random moment of the first 1.5 s (a ramp-up, like Locust's spawn rate): latency below saturation,
// not the herd of 50 users released in the same millisecond.
import type { Stack } from './cold-start.ts';
import { treeCpuMs } from './cpu.ts';
import { percentiles, virtualUser } from './http.ts';
import { benchAccount, smallUpload, startApi } from './server.ts';

const USERS = 50;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Endpoint = 'login' | 'list' | 'get' | 'upload';

export async function sessionMix(stack: Stack, options: { paced?: boolean } = {}) {
  const SECONDS = Number(process.env.BENCH_MIX_S ?? (options.paced ? 30 : 60));
  const label = options.paced ? 'session mix, paced 0.5–1.5 s' : 'session mix';
  const api = await startApi(stack, { WEB_CONCURRENCY: '2' });
  try {
    const accounts: Awaited<ReturnType<typeof benchAccount>>[] = [];
    for (let i = 0; i < USERS; i++) accounts.push(await benchAccount(api.url, `mix${i}`));
    const samples: Record<Endpoint, number[]> = { login: [], list: [], get: [], upload: [] };
    const errors: Record<Endpoint, number> = { login: 0, list: 0, get: 0, upload: 0 };
    const record = (endpoint: Endpoint, expected: number, answer: { status: number; ms: number }) => {
      if (answer.status !== expected) errors[endpoint]++;
      else samples[endpoint].push(answer.ms);
    };

    let deadline = 0;
    const runUser = async (account: (typeof accounts)[number]) => {
      const user = virtualUser(api.url);
      const json = { 'content-type': 'application/json' };
      const login = await user.send(
        'POST',
        '/v1/auth/login',
        json,
        JSON.stringify({ email: account.email, password: account.password }),
      );
      record('login', 200, login);
      const token = (JSON.parse(login.body) as { access_token: string }).access_token;
      const auth = { authorization: `Bearer ${token}` };
      await ready;
      if (options.paced) await pause(Math.random() * 1500);
      while (performance.now() < deadline) {
        const list = await user.send('GET', '/v1/documents?limit=20', auth);
        record('list', 200, list);
        const id = (JSON.parse(list.body) as { data?: { id: string }[] }).data?.[0]?.id ?? account.documentId;
        record('get', 200, await user.send('GET', `/v1/documents/${id}`, auth));
        const upload = smallUpload('mix.txt');
        record(
          'upload',
          201,
          await user.send(
            'POST',
            '/v1/documents',
            { ...auth, 'content-type': upload.contentType },
            upload.body,
          ),
        );
        if (options.paced) await pause(500 + Math.random() * 1000);
      }
      user.close();
    };
    let release!: () => void;
    const ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    const users = accounts.map((account) => runUser(account));
    // Logins first (all at once, argon2id-bound), then the loop phase is timed on its own.
    while (samples.login.length + errors.login < USERS) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    const cpuBefore = await treeCpuMs(api.pid);
    deadline = started + SECONDS * 1000;
    release();
    await Promise.all(users);
    const elapsedS = (performance.now() - started) / 1000;
    const cpuMs = (await treeCpuMs(api.pid)) - cpuBefore;

    const row = (name: string, endpoint: Endpoint[] | Endpoint) => {
      const parts = [endpoint].flat();
      const all = parts.flatMap((p) => samples[p]);
      const failed = parts.reduce((n, p) => n + errors[p], 0);
      const overall = parts.length > 1;
      return {
        benchmark: `${label} (${USERS} users, 2 workers, ${SECONDS} s): ${name}`,
        result: parts[0] === 'login' ? `${all.length} logins` : `${Math.round(all.length / elapsedS)} req/s`,
        ...(overall ? { cpu_ms: Math.round((cpuMs / Math.max(1, all.length + failed)) * 1000) / 1000 } : {}),
        ...percentiles(all),
        errors: failed,
        note: `${all.length + failed} requests`,
      };
    };
    return [
      row('login (argon2id, all 50 at once)', 'login'),
      row('GET /v1/documents', 'list'),
      row('GET /v1/documents/{id}', 'get'),
      row('POST /v1/documents (1 KiB)', 'upload'),
      row('overall (list + get + upload)', ['list', 'get', 'upload']),
    ];
  } finally {
    await api.stop();
  }
}
