// (i) `pnpm bench compare REV`: the hot paths and the cold start of another revision's build against
// this checkout's, in one interleaved run (each with two workers, on the same Postgres and s3rver): CPU
// per request before and after, the only comparison this noisy VM allows. REV is built in a temporary git worktree that shares
// this checkout's node_modules (same lockfile assumed); this checkout's migrations are applied (a
// superset of REV's when REV is older).
import { execFileSync } from 'node:child_process';
import { rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type Stack, startOnce } from './cold-start.ts';
import { hotRoutes, interleaved, type Target } from './hot-paths.ts';
import { startApi } from './server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COLD_STARTS = 7;

export async function compare(stack: Stack, rev: string) {
  const dir = join(tmpdir(), `stowage-compare-${process.pid}`);
  const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { stdio: 'inherit' });
  git('worktree', 'add', '--detach', dir, rev);
  try {
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, ['scripts/build.ts'], { cwd: dir, stdio: 'inherit' });
    const builds = { [rev]: dir, 'this checkout': ROOT };
    const servers = await Promise.all(
      Object.values(builds).map((root) => startApi(stack, { WEB_CONCURRENCY: '2' }, { root })),
    );
    const targets: Target[] = [];
    const rows: Record<string, unknown>[] = [];
    try {
      for (const [i, name] of Object.keys(builds).entries()) {
        const routes = await hotRoutes(servers[i]!.url, `compare-${i}`);
        for (const route of [routes.me, routes.get, routes.list, routes.upload])
          targets.push({ label: `${route.name} — ${name}`, pid: servers[i]!.pid, route });
      }
      const results = await interleaved(targets, 3);
      rows.push(
        ...results.map(({ label, row }) => ({
          benchmark: `compare: ${label}, 2 workers, 50 conns, interleaved`,
          ...row,
        })),
      );
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
    // Cold starts of both builds, taking turns.
    const starts = Object.values(builds).map(() => [] as { ms: number; cpu: number }[]);
    for (let run = 0; run < COLD_STARTS; run++) {
      for (const [i, root] of Object.values(builds).entries())
        starts[i]!.push(await startOnce('dist/main.js', stack, {}, root));
    }
    for (const [i, name] of Object.keys(builds).entries()) {
      rows.push({
        benchmark: `compare: cold start node dist/main.js — ${name}, ${COLD_STARTS} runs, interleaved`,
        result: `${Math.round(median(starts[i]!.map((s) => s.ms)))} ms median, ${median(starts[i]!.map((s) => s.cpu))} ms CPU`,
        note: `runs ${starts[i]!.map((s) => Math.round(s.ms)).join(' ')}`,
      });
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
    git('worktree', 'prune');
  }
}
