// Shim of the `k6` module: check() and sleep().
import { record, state } from './state.ts';

export function check<T>(value: T, sets: Record<string, (value: T) => boolean>): boolean {
  let all = true;
  for (const [name, condition] of Object.entries(sets)) {
    let ok = false;
    try {
      ok = Boolean(condition(value));
    } catch {}
    const tally = state.checks.get(name) ?? { passes: 0, fails: 0 };
    if (ok) tally.passes++;
    else tally.fails++;
    state.checks.set(name, tally);
    record('checks', 'rate', ok ? 1 : 0, { check: name });
    all &&= ok;
  }
  return all;
}

export function sleep(seconds: number): void {
  const ms = seconds * 1000 * state.sleepScale;
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export default { check, sleep };
