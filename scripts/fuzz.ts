// `pnpm fuzz`: a long random run of the schema-driven fuzzer (test/fuzz.test.ts). CI runs it with a
// fixed seed; here the seed is random unless FUZZ_SEED is given, and printed so a failure can be
// replayed exactly: FUZZ_SEED=<seed> FUZZ_RUNS=<runs> pnpm fuzz.
import { spawnSync } from 'node:child_process';

const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const runs = process.env.FUZZ_RUNS ?? '100000';
console.error(`fuzz: seed ${seed}, ${runs} requests (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} pnpm fuzz)`);
const result = spawnSync('pnpm', ['exec', 'vitest', 'run', 'test/fuzz.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SEED: seed, FUZZ_RUNS: runs },
});
process.exit(result.status ?? 1);
