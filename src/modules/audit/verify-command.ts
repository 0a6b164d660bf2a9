// `pnpm audit:verify`: walks the audit log's hash chain of DATABASE_URL. Exit 0 when intact, 2 with the
// first broken row otherwise (an edited or deleted event). Read-only; safe against production.
import { envSchema } from '../../config.ts';
import { createDatabase } from '../../db/client.ts';
import { createAuditService } from './audit.service.ts';

const url = envSchema.shape.DATABASE_URL.safeParse(process.env.DATABASE_URL || undefined);
if (!url.success || !url.data) {
  console.error('DATABASE_URL must be a postgres:// URL');
  process.exit(1);
}
const database = createDatabase({
  url: url.data,
  poolMax: 1,
  connectTimeoutS: 10,
  idleTimeoutS: 10,
  maxLifetimeS: 0,
  statementTimeoutMs: 600_000,
});
const result = await createAuditService(database.db).verifyChain();
await database.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : 2);
