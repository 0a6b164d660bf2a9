// Server CPU time, the steadiest figure this shared 2-core VM gives: req/s moves ±20 % between identical
// runs, CPU seconds per request far less. A cluster primary and its workers are summed.
import { readdir, readFile } from 'node:fs/promises';

const TICK_MS = 10; // USER_HZ is 100 on Linux

type Stat = { pid: number; ppid: number; ms: number; sysMs: number };

async function stat(pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // Fields after "(comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based in proc(5).
  const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  const sysTicks = Number(fields[12]) + Number(fields[14]);
  return { pid, ppid: Number(fields[1]), ms: ticks * TICK_MS, sysMs: sysTicks * TICK_MS };
}

/**
 * CPU ms (user + system) of `pid` and every process under it so far. The children's counters of a
 * process (cutime/cstime) hold only children it has reaped, so a worker that exited is counted once, in
 * its parent, and a live one once, by itself.
 */
export async function treeCpuMs(pid: number): Promise<number> {
  return (await treeCpu(pid)).ms;
}

/** CPU ms of the tree under `pid`, and the part of it spent in the kernel (syscalls, loopback TCP). */
export async function treeCpu(pid: number): Promise<{ ms: number; sysMs: number }> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = (await Promise.all(pids.map(stat))).filter((s): s is Stat => s !== undefined);
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const total = { ms: 0, sysMs: 0 };
  const walk = (s: Stat) => {
    total.ms += s.ms;
    total.sysMs += s.sysMs;
    for (const child of children.get(s.pid) ?? []) walk(child);
  };
  const root = stats.find((s) => s.pid === pid);
  if (root) walk(root);
  return total;
}

/** Runs `work` and returns its result with the server CPU it cost, per request, in ms. */
export async function withCpu<T extends { requests: number }>(pid: number, work: () => Promise<T>) {
  const before = await treeCpu(pid);
  const result = await work();
  const after = await treeCpu(pid);
  const cpuMs = after.ms - before.ms;
  const sysMs = after.sysMs - before.sysMs;
  return { ...result, cpuMs, sysMs, cpuPerRequestMs: cpuMs / Math.max(1, result.requests) };
}
