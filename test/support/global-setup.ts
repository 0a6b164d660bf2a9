// Starts one embedded Postgres and one s3rver for the whole run (unless TEST_DATABASE_URL /
// TEST_S3_ENDPOINT name external ones), migrates a template database that every test file clones.
import { chmod, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../src/db/migrations.ts';
import { startEmbeddedPostgres } from '../../src/dev/embedded-postgres.ts';
import { startEmbeddedS3 } from '../../src/dev/embedded-s3.ts';
import { freePort } from '../../src/dev/free-port.ts';
import { scanLogsForSecrets } from './log-audit-scan.ts';

export type TestStack = {
  /** Where harnesses tee every log line and remember every secret (test/support/log-audit.ts). */
  logAuditDir?: string;
  adminUrl: string;
  template: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
};

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}

const TEMPLATE = 'stowage_template';

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-test-'));
  await chmod(dir, 0o755); // as root, Postgres runs as the `postgres` user, which must traverse it
  const started = performance.now();
  const postgresHandle = process.env.TEST_DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dir: join(dir, 'pg'), port: await freePort(), ephemeral: true });
  const s3Handle = process.env.TEST_S3_ENDPOINT
    ? undefined
    : await startEmbeddedS3({ dir: join(dir, 's3'), port: await freePort() });
  const adminUrl = process.env.TEST_DATABASE_URL ?? postgresHandle!.url();

  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${TEMPLATE} with (force)`);
  await admin.unsafe(`create database ${TEMPLATE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE}`;
  await migrateDatabase(templateUrl.toString());
  console.error(`[test] Postgres + S3 ready in ${Math.round(performance.now() - started)} ms`);

  const logAuditDir = join(dir, 'log-audit');
  project.provide('stack', {
    logAuditDir,
    adminUrl,
    template: TEMPLATE,
    s3Endpoint: process.env.TEST_S3_ENDPOINT ?? s3Handle!.endpoint,
    s3AccessKey: process.env.TEST_S3_ACCESS_KEY_ID ?? 'S3RVER',
    s3SecretKey: process.env.TEST_S3_SECRET_ACCESS_KEY ?? 'S3RVER',
  });

  return async () => {
    await Promise.allSettled([s3Handle?.stop(), postgresHandle?.stop()]);
    // Issue 10: no log line of the whole run carries a secret the tests used.
    const audit = scanLogsForSecrets(logAuditDir);
    console.error(
      `[test] log audit: ${audit.lines} log lines checked for ${audit.secrets} secrets, ${audit.leaks.length} leaks`,
    );
    if (audit.leaks.length) {
      const kept = `${dir}-leaks`;
      await rename(logAuditDir, kept);
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `secrets found in log lines (kept in ${kept}):\n${audit.leaks
          .slice(0, 20)
          .map((leak) => `  ${leak.kind} in ${leak.file}:${leak.line}`)
          .join('\n')}`,
      );
    }
    await rm(dir, { recursive: true, force: true });
  };
}
