// `pnpm db:migrate`: the one-shot job that brings DATABASE_URL to the migrations of this build. It reads
// only DATABASE_URL, so the job needs no other secret of the API.
import { envSchema } from '../config.ts';
import { migrateDatabase } from './migrations.ts';

const url = envSchema.shape.DATABASE_URL.safeParse(process.env.DATABASE_URL || undefined);
if (!url.success || !url.data) {
  console.error('DATABASE_URL must be a postgres:// URL (pnpm dev migrates its embedded database by itself)');
  process.exit(1);
}
const started = performance.now();
await migrateDatabase(url.data);
console.error(`migrations applied in ${Math.round(performance.now() - started)} ms`);
