import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let dataDir: string;

/** Every live process whose environment names this run's DATA_DIR: the supervisor, API, Postgres. */
async function processesOf(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
      if (!environ.split('\0').includes(`DATA_DIR=${marker}`)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // reaped any moment
      found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'latin1')).replaceAll('\0', ' ')}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/**
 * `pnpm dev` in its own process group, as a terminal runs it; resolves once the supervisor announced
 * readiness (it polls /readyz itself, so /readyz alone could answer before its line is printed).
 */
async function startDev(
  port: number,
): Promise<{ child: ChildProcess; output: string[]; readyAfterMs: number }> {
  const started = Date.now();
  const child = spawn('pnpm', ['dev'], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk) => output.push(String(chunk)));
  child.stderr?.on('data', (chunk) => output.push(String(chunk)));
  while (Date.now() - started < 60_000) {
    if (output.join('').includes('[dev] ready')) return { child, output, readyAfterMs: Date.now() - started };
    if (child.exitCode !== null) break;
    await sleep(200);
  }
  throw new Error(`pnpm dev not ready within 60 s:\n${output.join('')}`);
}

async function expectNothingLeft(exited: Promise<unknown>) {
  await Promise.race([exited, sleep(30_000)]);
  let left = await processesOf(dataDir);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await sleep(250);
    left = await processesOf(dataDir);
  }
  expect(left).toEqual([]);
}

afterAll(async () => {
  for (const line of await processesOf(dataDir)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('pnpm dev', () => {
  it('first start on an empty DATA_DIR: ready within 60 s; Ctrl-C leaves no process behind', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stowage-dev-'));
    await chmod(dataDir, 0o755);
    const port = await freePort();
    const { child, output, readyAfterMs } = await startDev(port);
    expect(readyAfterMs).toBeLessThan(60_000);
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 's3'))).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const docs = await fetch(`http://127.0.0.1:${port}/docs`);
    expect(docs.status).toBe(200);
    expect(output.join('')).toContain(`docs http://localhost:${port}/docs`);
    expect((await processesOf(dataDir)).length).toBeGreaterThanOrEqual(3);

    const exited = once(child, 'exit');
    process.kill(-child.pid!, 'SIGINT'); // what a terminal's Ctrl-C does: the whole foreground group
    await expectNothingLeft(exited);
  }, 120_000);

  it('second start reuses the data; SIGTERM to the supervisor alone stops everything', async () => {
    const port = await freePort();
    const { child } = await startDev(port);
    // The node process itself, not pnpm's `sh -c` wrapper around it.
    const supervisor = (await processesOf(dataDir)).find((line) =>
      /^\d+ \S*node src\/dev\/dev\.ts/.test(line),
    );
    expect(supervisor).toBeDefined();
    const exited = once(child, 'exit');
    process.kill(Number(supervisor!.split(' ')[0]), 'SIGTERM');
    await expectNothingLeft(exited);
  }, 120_000);

  it('restarts the API on every save, an atomic rename-over included; prints the database URL', async () => {
    const port = await freePort();
    const { child, output } = await startDev(port);
    expect(output.join('')).toMatch(
      /\[dev\] database postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/stowage/,
    );
    const probe = join(ROOT, 'src/dev/reload-probe.tmp.ts');
    const apiPid = async () =>
      (await processesOf(dataDir)).find((line) => /^\d+ \S*node \S*src\/main\.ts/.test(line))?.split(' ')[0];
    try {
      let previous = await apiPid();
      expect(previous).toBeDefined();
      // An editor's atomic save, twice: write a copy, rename it over the file (a new inode each time).
      for (const round of [1, 2]) {
        await writeFile(`${probe}.swp`, `export const round = ${round};\n`);
        await rename(`${probe}.swp`, probe);
        let current = previous;
        for (let i = 0; i < 100 && (current === previous || current === undefined); i++) {
          await sleep(100);
          current = await apiPid();
        }
        expect(current, `round ${round}`).not.toBe(previous);
        let ready = 0;
        for (let i = 0; i < 100 && ready !== 200; i++) {
          ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status,
            () => 0,
          );
          if (ready !== 200) await sleep(100);
        }
        expect(ready).toBe(200);
        previous = current;
      }
      expect(output.join('')).toContain('src/dev/reload-probe.tmp.ts changed: restarting the API');
    } finally {
      await rm(probe, { force: true });
      await rm(`${probe}.swp`, { force: true });
    }
    const exited = once(child, 'exit');
    process.kill(-child.pid!, 'SIGINT');
    await expectNothingLeft(exited);
  }, 120_000);
});
