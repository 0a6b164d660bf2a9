// `node dist/restore.js` (compose service restore-objects), restore step 1 before
// ops/backup/restore-db.sh: verifies every file of backup BACKUP_ID against its manifest first (nothing
// is written when one does not match), refuses a bucket that already holds objects, then uploads each
// object under its original key. Exit 0 only when all of them are in place.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { backupDir, readManifest, sha256File, storageFromEnv } from './backup-manifest.ts';

const id = process.env.BACKUP_ID ?? '';
const dir = backupDir(id);
const manifest = await readManifest(dir);

const fail = (message: string, code: number): never => {
  console.error(`restore: ${message}`);
  process.exit(code);
};

const db = await sha256File(join(dir, manifest.db_file));
if (db.sha256 !== manifest.db_sha256) fail('db.dump does not match its manifest checksum', 3);
for (const sha256 of new Set(manifest.objects.map((object) => object.sha256))) {
  const actual = await sha256File(join(dir, 'objects', sha256));
  if (actual.sha256 !== sha256) fail(`objects/${sha256} does not match its checksum`, 3);
}

const storage = storageFromEnv();
const { client, bucket } = storage;
try {
  await client.send(new HeadBucketCommand({ Bucket: bucket }));
} catch {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}
// No MaxKeys: s3rver answers 500 to MaxKeys=1 on a bucket with objects; one page is plenty to tell.
const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
if ((listed.KeyCount ?? 0) > 0) fail(`bucket ${bucket} is not empty; restore into an empty one`, 4);

for (const object of manifest.objects) {
  await new Upload({
    client,
    params: { Bucket: bucket, Key: object.key, Body: createReadStream(join(dir, 'objects', object.sha256)) },
  }).done();
}
storage.close();
console.error(`restore: ${id}: ${manifest.objects.length} objects into bucket ${bucket}; now restore-db`);
