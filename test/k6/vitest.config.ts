import { defineConfig } from 'vitest/config';

// `pnpm k6:check`: the pure parts of the k6 suite, without the API test stack (no global set-up).
export default defineConfig({
  test: { include: ['test/k6/**/*.test.ts'], pool: 'threads' },
});
