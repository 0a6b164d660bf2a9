// The consistency oracle of the fuzz and fault suites: after the sweeper, every ready document has its
// object with the right size and sha256, no object lives without a row, and every account's
// `bytes_used` / `document_count` equal what its ready documents add up to.
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import postgres from 'postgres';
import type { Config } from '../../src/config.ts';
import { createDatabase } from '../../src/db/client.ts';
import { createSweeper } from '../../src/modules/documents/sweeper.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createStorage } from '../../src/storage/storage.ts';

export type Consistency = {
  readyDocuments: number;
  objects: number;
  accounts: number;
  problems: string[];
};

async function listAll(storage: ReturnType<typeof createStorage>, prefix: string) {
  const objects: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  do {
    const page = await storage.client.send(
      new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) objects.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

async function sha256Of(storage: ReturnType<typeof createStorage>, key: string) {
  const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of object.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

/** Runs the sweeper with no grace (nothing may be in flight), then compares database and bucket. */
export async function checkConsistency(config: Pick<Config, 'database' | 's3'>): Promise<Consistency> {
  const database = createDatabase({ ...config.database, url: config.database.url! });
  const storage = createStorage({ ...config.s3, endpoint: config.s3.endpoint!, timeoutMs: 10_000 });
  const sql = postgres(config.database.url!, { max: 2, onnotice: () => {} });
  const problems: string[] = [];
  try {
    // `deleting` rows get a minute of grace in the sweeper; age them so one pass settles everything.
    await sql`update documents set updated_at = now() - interval '1 hour' where status <> 'ready'`;
    const sweeper = createSweeper({
      db: database.db,
      storage,
      logger: createLogger({ level: 'silent' }),
      pendingTtlS: 0,
    });
    while ((await sweeper.runOnce()) > 0) {}

    const rows = await sql<
      { id: string; status: string; size_bytes: string; sha256: string | null; storage_key: string }[]
    >`
      select id, status, size_bytes, sha256, storage_key from documents`;
    const objects = new Map((await listAll(storage, 'documents/')).map((o) => [o.key, o.size]));
    const ready = rows.filter((r) => r.status === 'ready');
    for (const row of rows.filter((r) => r.status !== 'ready'))
      problems.push(`document ${row.id} still ${row.status} after the sweeper`);
    for (const row of ready) {
      const size = objects.get(row.storage_key);
      if (size === undefined) problems.push(`ready document ${row.id} has no object`);
      else if (size !== Number(row.size_bytes))
        problems.push(`document ${row.id}: object ${size} B, row ${row.size_bytes} B`);
      else if ((await sha256Of(storage, row.storage_key)) !== row.sha256)
        problems.push(`document ${row.id}: sha256 differs`);
    }
    const keys = new Set(rows.map((r) => r.storage_key));
    for (const key of objects.keys()) if (!keys.has(key)) problems.push(`object ${key} has no row`);

    const accounts = await sql<
      { id: string; bytes_used: string; document_count: number; sum: string; count: string }[]
    >`
      select u.id, u.bytes_used, u.document_count,
             coalesce(sum(d.size_bytes) filter (where d.status = 'ready'), 0) as sum,
             count(d.id) filter (where d.status = 'ready') as count
      from users u left join documents d on d.user_id = u.id group by u.id`;
    for (const a of accounts) {
      if (Number(a.bytes_used) !== Number(a.sum))
        problems.push(`user ${a.id}: bytes_used ${a.bytes_used} ≠ ${a.sum}`);
      if (Number(a.document_count) !== Number(a.count))
        problems.push(`user ${a.id}: document_count ${a.document_count} ≠ ${a.count}`);
    }
    return { readyDocuments: ready.length, objects: objects.size, accounts: accounts.length, problems };
  } finally {
    await sql.end();
    await database.close();
    storage.close();
  }
}
