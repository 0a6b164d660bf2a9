import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';

export type Storage = ReturnType<typeof createStorage>;

/** The object store behind document bytes. Document operations (put/get/delete/presign) build on this. */
export function createStorage(config: Config['s3'] & { endpoint: string }) {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestHandler: { connectionTimeout: Math.min(config.timeoutMs, 5000), requestTimeout: config.timeoutMs },
    maxAttempts: 3,
  });
  const bucket = config.bucket;

  return {
    client,
    bucket,
    /** Whether the bucket answers with these credentials; the caller bounds it with `signal`. */
    async ping(signal: AbortSignal): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    },
    /** Dev and tests only; production buckets are provisioned outside the app. */
    async ensureBucket(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      }
    },
    close: () => client.destroy(),
  };
}
