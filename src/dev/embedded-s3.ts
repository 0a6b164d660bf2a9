import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import S3rver from 's3rver';

export type EmbeddedS3Handle = { endpoint: string; port: number; stop: () => Promise<void> };

/** s3rver on 127.0.0.1, objects kept as files under `dir`; speaks the real S3 API to the AWS SDK. */
export async function startEmbeddedS3(options: {
  dir: string;
  port: number;
  buckets?: string[];
}): Promise<EmbeddedS3Handle> {
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
