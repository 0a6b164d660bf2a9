// `pnpm build`: bundles the two production entries into dist/ with esbuild. Unbundled, Node spends
// ~0.5 s of every cold start re-reading drizzle-orm's 178 KB package.json for each of its modules
// (measured: 830 ms → 260 ms to first response). Type checking is `tsc --noEmit` in `pnpm lint`.
// A package that telemetry must instrument through module hooks goes in `external`.
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';

// BUILD_OUTDIR: tests that build their own copy (running beside test/build.test.ts) use another folder.
const outdir = process.env.BUILD_OUTDIR ?? 'dist';
await rm(new URL(`../${outdir}`, import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: {
    main: 'src/main.ts',
    migrate: 'src/db/migrate.ts',
    'audit-verify': 'src/modules/audit/verify-command.ts',
    worker: 'src/jobs/worker.ts',
    // Backup and restore of document objects (ops/backup/, runbook/deploy.md).
    backup: 'src/ops/backup.ts',
    restore: 'src/ops/restore.ts',
  },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // Resolved at run time: the docs bundle is served as a file; argon2 loads a native addon.
  external: ['@scalar/api-reference', '@node-rs/argon2'],
  // yazl's CRC-32 in JavaScript capped exports at ~95 MiB/s of CPU; Node's native one has the same API
  // behind this shim (bench `export`).
  alias: { 'buffer-crc32': './src/modules/exports/native-crc32.cjs' },
  logLevel: 'warning',
});
console.error('dist/main.js, dist/migrate.js, dist/worker.js built');
