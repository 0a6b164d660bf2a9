// The on-disk shape of one backup (ops/backup/, runbook/deploy.md): BACKUP_DIR/<id>/
//   db.dump          pg_dump custom format (backup-db.sh)
//   documents.copy   the documents table read back out of db.dump (backup-db.sh)
//   objects/<sha256> each referenced object's bytes, stored once per content hash
//   manifest.json    written last: a backup without it is incomplete and is never restored or counted
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { envSchema } from '../config.ts';
import { createStorage } from '../storage/storage.ts';

export const BACKUP_ROOT = process.env.BACKUP_ROOT ?? '/backups';

export const manifestSchema = z.object({
  format: z.literal('stowage-backup/1'),
  id: z.string(),
  created_at: z.string(),
  db_file: z.literal('db.dump'),
  db_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  db_bytes: z.number().int().nonnegative(),
  pg_dump: z.string(),
  bucket: z.string(),
  objects: z.array(
    z.object({
      key: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: z.number().int().nonnegative(),
    }),
  ),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const backupDir = (id: string) => {
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`bad BACKUP_ID "${id}"`);
  return join(BACKUP_ROOT, id);
};

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(createReadStream(path), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  });
  return { sha256: hash.digest('hex'), bytes };
}

/** Rows of a `pg_restore --data-only --table=documents` text COPY block, by column name. */
export function parseCopy(text: string): Record<string, string | null>[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => /^COPY \S*documents \(/.test(line));
  if (start < 0) return [];
  const columns = /\(([^)]*)\)/
    .exec(lines[start]!)![1]!
    .split(',')
    .map((name) => name.trim().replace(/^"|"$/g, ''));
  const rows: Record<string, string | null>[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '\\.') break;
    const fields = line.split('\t');
    rows.push(Object.fromEntries(columns.map((name, i) => [name, unescapeCopy(fields[i])])));
  }
  return rows;
}

const unescapeCopy = (field: string | undefined): string | null =>
  field === undefined || field === '\\N'
    ? null
    : field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);

export async function readManifest(dir: string): Promise<Manifest> {
  return manifestSchema.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
}

/** The S3 client of the stack, from the same S3_* variables as the api (no other secret needed). */
export function storageFromEnv() {
  const s3 = z
    .object({
      S3_ENDPOINT: envSchema.shape.S3_ENDPOINT.unwrap(),
      S3_REGION: envSchema.shape.S3_REGION,
      S3_BUCKET: envSchema.shape.S3_BUCKET,
      S3_ACCESS_KEY_ID: envSchema.shape.S3_ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: envSchema.shape.S3_SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: envSchema.shape.S3_FORCE_PATH_STYLE,
      S3_TIMEOUT_MS: envSchema.shape.S3_TIMEOUT_MS,
    })
    .parse(process.env);
  return createStorage({
    endpoint: s3.S3_ENDPOINT,
    region: s3.S3_REGION,
    bucket: s3.S3_BUCKET,
    accessKeyId: s3.S3_ACCESS_KEY_ID,
    secretAccessKey: s3.S3_SECRET_ACCESS_KEY,
    forcePathStyle: s3.S3_FORCE_PATH_STYLE,
    timeoutMs: s3.S3_TIMEOUT_MS,
  });
}
