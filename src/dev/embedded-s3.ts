import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import S3rver from 's3rver';

export type EmbeddedS3Handle = { endpoint: string; port: number; stop: () => Promise<void> };

/** s3rver on 127.0.0.1, objects kept as files under `dir`; speaks the real S3 API to the AWS SDK. */
export async function startEmbeddedS3(options: {
  dir: string;
  port: number;
  buckets?: string[];
  /** Keys to accept instead of s3rver's fixed `S3RVER`/`S3RVER` (which are then refused). */
  accessKeys?: { accessKeyId: string; secretAccessKey: string };
}): Promise<EmbeddedS3Handle> {
  if (options.accessKeys) useAccessKeys(options.accessKeys);
  const directory = resolve(options.dir);
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    port: options.port,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    async stop() {
      // close() waits for keep-alive sockets the SDK holds open; cut them so stopping is immediate.
      const closing = server.close();
      server.httpServer?.closeAllConnections();
      await closing;
    },
  };
}

type S3rverAccount = {
  createKeyPair(id: string, secret: string): void;
  revokeAccessKey(id: string): void;
};

/** s3rver has one built-in account with fixed keys and no option for others: its registry takes them. */
function useAccessKeys(keys: { accessKeyId: string; secretAccessKey: string }) {
  const account = (
    createRequire(import.meta.url)('s3rver/lib/models/account.js') as { DUMMY_ACCOUNT: S3rverAccount }
  ).DUMMY_ACCOUNT;
  account.revokeAccessKey('S3RVER');
  account.createKeyPair(keys.accessKeyId, keys.secretAccessKey);
}
