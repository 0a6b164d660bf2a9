// The server as its own process (the real start path), for tests that signal, kill or share it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { testEnv } from './harness.ts';
import { teeLogLine } from './log-audit.ts';

export const PROBE_SERVER = fileURLToPath(new URL('../fixtures/probe-server.ts', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

const children: ChildProcess[] = [];

/** Servers shared by every test of a file (`{ perFile: true }`): killed when the file ends. */
const fileChildren: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(() => {
  for (const child of fileChildren.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

export type SpawnedServer = Awaited<ReturnType<typeof spawnServer>>;

/**
 * Starts `entry` (the probe fixture by default) on this file's database unless `env` names another, and
 * resolves once it listens. Its JSON log lines are collected in `logs`.
 */
export async function spawnServer(
  env: Record<string, string>,
  entry = PROBE_SERVER,
  options: { perFile?: boolean } = {},
) {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, LOG_LEVEL: 'info', ...(await testEnv(env)) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  (options.perFile ? fileChildren : children).push(child);
  const logs: Record<string, unknown>[] = [];
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, at: Date.now() }));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      teeLogLine(line);
      const parsed = JSON.parse(line);
      logs.push(parsed);
      if (parsed.msg === 'ready' && parsed.url) resolve(parsed.url);
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  return { child, url, logs, exited };
}
