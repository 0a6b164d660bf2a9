// `node dist/backup.js` (compose service backup-objects), backup step 2 after ops/backup/backup-db.sh:
// copies every object that the dump's ready documents reference into BACKUP_DIR/<id>/objects/, checks
// each against the sha256 the database recorded at upload, and writes manifest.json last. Exit 0 only
// when every object was copied and matched.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { backupDir, type Manifest, parseCopy, sha256File, storageFromEnv } from './backup-manifest.ts';

const id = process.env.BACKUP_ID ?? '';
const dir = backupDir(id);
const storage = storageFromEnv();
const documents = parseCopy(await readFile(join(dir, 'documents.copy'), 'utf8')).filter(
  (row) => row.status === 'ready',
);
await mkdir(join(dir, 'objects'), { recursive: true });

const objects: Manifest['objects'] = [];
const failures: string[] = [];
for (const row of documents) {
  const key = row.storage_key!;
  const expected = row.sha256 ?? '';
  const target = join(dir, 'objects', expected);
  try {
    if (!existsSync(target)) {
      const response = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
      const hash = createHash('sha256');
      const partial = `${target}.partial`;
      await pipeline(
        response.Body as Readable,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(partial),
      );
      const actual = hash.digest('hex');
      if (actual !== expected) throw new Error(`sha256 ${actual} does not match the recorded ${expected}`);
      await rename(partial, target);
    }
    objects.push({ key, sha256: expected, bytes: Number(row.size_bytes) });
  } catch (error) {
    failures.push(`${key}: ${(error as Error).message}`);
  }
}
storage.close();
if (failures.length) {
  console.error(
    `backup: ${failures.length} object(s) failed, no manifest written:\n  ${failures.join('\n  ')}`,
  );
  process.exit(1);
}

const db = await sha256File(join(dir, 'db.dump'));
const manifest: Manifest = {
  format: 'stowage-backup/1',
  id,
  created_at: new Date().toISOString(),
  db_file: 'db.dump',
  db_sha256: db.sha256,
  db_bytes: db.bytes,
  pg_dump: (await readFile(join(dir, 'pg_dump.version'), 'utf8')).trim(),
  bucket: storage.bucket,
  objects,
};
await writeFile(join(dir, 'manifest.json.partial'), `${JSON.stringify(manifest, null, 2)}\n`);
await rename(join(dir, 'manifest.json.partial'), join(dir, 'manifest.json'));
const total = objects.reduce((sum, object) => sum + object.bytes, 0);
console.error(`backup: ${id}: db ${db.bytes} bytes, ${objects.length} objects (${total} bytes)`);
