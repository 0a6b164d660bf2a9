// (h) V8 flags: the young generation's size (--max-semi-space-size, MiB) trades CPU for memory. Servers
// of two workers with each size run at once and take turns (upload 1 KiB and list, 50 connections):
// CPU per request; then a 1 GiB upload through a single process with each size: RSS growth. The
// production flag (`pnpm start`) is the one that serves both bounds.
import type { Stack } from './cold-start.ts';
import { hotRoutes, interleaved, type Target } from './hot-paths.ts';
import { startApi } from './server.ts';
import { bigUpload } from './upload.ts';

const SIZES = (process.env.BENCH_SEMI_SPACES ?? '2,8,16').split(',').map(Number);
const MiB = 1024 * 1024;

export async function flags(stack: Stack) {
  const flagsOf = (size: number) => [`--max-semi-space-size=${size}`];
  const servers = await Promise.all(
    SIZES.map((size) => startApi(stack, { WEB_CONCURRENCY: '2' }, { nodeFlags: flagsOf(size) })),
  );
  const targets: Target[] = [];
  let results: Awaited<ReturnType<typeof interleaved>>;
  try {
    for (const [i, size] of SIZES.entries()) {
      const routes = await hotRoutes(servers[i]!.url, `flags-${size}`);
      targets.push(
        {
          label: `semi-space ${size} MiB: ${routes.upload.name}`,
          pid: servers[i]!.pid,
          route: routes.upload,
        },
        { label: `semi-space ${size} MiB: ${routes.list.name}`, pid: servers[i]!.pid, route: routes.list },
      );
    }
    results = await interleaved(targets, 3);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  const rows: Record<string, unknown>[] = results.map(({ label, row }) => ({
    benchmark: `flags: ${label}, 2 workers, 50 conns, interleaved`,
    ...row,
  }));
  for (const size of SIZES) {
    const big = await bigUpload(stack, flagsOf(size));
    rows.push({
      benchmark: `flags: semi-space ${size} MiB: upload 1 GiB, server RSS growth`,
      result: `${(big.growth / MiB).toFixed(1)} MiB`,
      cpu_ms: big.cpuMs,
      note: `${((1024 * MiB) / MiB / big.seconds).toFixed(1)} MiB/s; CPU ${(big.cpuMs / 1024).toFixed(2)} ms per MiB`,
    });
  }
  return rows;
}
