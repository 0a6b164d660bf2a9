// Test files that run `pnpm build` (which empties dist/) and then start dist/main.js would break each
// other when vitest runs them in parallel: each holds this lock from its build to its last test.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const LOCK = fileURLToPath(new URL('../../node_modules/.cache/stowage-dist.lock', import.meta.url));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits for dist/ to be free, then holds it until the returned release() (a dead holder's lock is taken over). */
export async function lockDist(timeoutMs = 300_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  await mkdir(new URL('../../node_modules/.cache/', import.meta.url), { recursive: true });
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(`${LOCK}/pid`, String(process.pid));
      return () => rm(LOCK, { recursive: true, force: true });
    } catch {
      const holder = Number(await readFile(`${LOCK}/pid`, 'utf8').catch(() => ''));
      if (holder && !alive(holder)) await rm(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`dist/ still locked by ${holder} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }
}
