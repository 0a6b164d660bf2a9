// A real Prometheus (Debian's `prometheus` package, installed by .ci/run) scraping one target every
// second, with its data in a temp dir; queried through its HTTP API.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/dev/free-port.ts';

export async function startPrometheus(target: string) {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-prom-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: stowage',
      '    scrape_interval: 1s',
      '    scrape_timeout: 900ms',
      `    static_configs: [{ targets: ['${target}'] }]`,
    ].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ready = await fetch(`${base}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 200 || child.exitCode !== null) throw new Error('prometheus did not start');
    await sleep(100);
  }

  /** An instant PromQL query: its single value as a number (undefined when the result is empty). */
  const query = async (promql: string): Promise<number | undefined> => {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as {
      status: string;
      data: { result: { value: [number, string] }[] };
      error?: string;
    };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    const [first] = body.data.result;
    return first ? Number(first.value[1]) : undefined;
  };

  return {
    query,
    /** Polls `promql` until it equals `expected` (scrapes are asynchronous); returns the last value. */
    async until(promql: string, expected: number, timeoutMs = 20_000): Promise<number | undefined> {
      const deadline = Date.now() + timeoutMs;
      let value = await query(promql);
      while (value !== expected && Date.now() < deadline) {
        await sleep(250);
        value = await query(promql);
      }
      return value;
    },
    /** Resolves once Prometheus has completed a scrape that started after this call. */
    async nextScrape(): Promise<void> {
      const since = Date.now() / 1000;
      for (let i = 0; i < 100; i++) {
        const last = await query('timestamp(up{job="stowage"})');
        if (last !== undefined && last > since + 0.05) return;
        await sleep(200);
      }
      throw new Error('no scrape');
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
