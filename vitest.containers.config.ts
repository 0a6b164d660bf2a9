import { defineConfig } from 'vitest/config';

// `pnpm test:containers`: the container image, the compose stack and the backup drill
// (test/containers.e2e.ts). Separate from `pnpm test` because it builds images for minutes on a 2-core
// machine, which would skew the timing-sensitive tests running beside it; .ci/run runs it after them.
// It needs no embedded Postgres or S3 of its own: everything runs in containers.
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 1_200_000,
    teardownTimeout: 120_000,
  },
});
