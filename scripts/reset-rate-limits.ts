// `pnpm -s dev:reset-limits`: clears every rate-limit counter and lock-out of the development database
// (DATABASE_URL, default the embedded one `pnpm dev` prints), then touches src/main.ts so `pnpm dev`
// restarts the API: each process also remembers a refusal in memory until its window ends.
import { utimes } from 'node:fs/promises';
import postgres from 'postgres';

if (process.env.NODE_ENV === 'production') {
  console.error('refusing: NODE_ENV=production (this is a development convenience)');
  process.exit(1);
}
const url = process.env.DATABASE_URL || 'postgres://postgres:postgres@127.0.0.1:54320/stowage';
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const [{ count }] = (await sql`select count(*)::int as count from rate_limits`) as unknown as [
    { count: number },
  ];
  await sql`truncate rate_limits`;
  const now = new Date();
  await utimes(new URL('../src/main.ts', import.meta.url), now, now);
  console.error(
    `cleared ${count} rate-limit counters in ${url.replace(/:[^:@/]+@/, ':***@')}; pnpm dev restarts the API`,
  );
} finally {
  await sql.end();
}
