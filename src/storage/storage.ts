import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config.ts';
import { instrumentS3 } from '../telemetry/s3.ts';

export type Storage = ReturnType<typeof createStorage>;

// lib-storage holds partSize × queueSize of a stream, plus one part being assembled and its copy.
// S3's minimum part and one part in flight: the API path, not the queue depth, bounds throughput
// (measured: same MiB/s as 8 MiB × 2, half the RSS growth on a 1 GiB upload).
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 1;

/** The object store behind document bytes: streaming put, ranged get, delete, presigned GET. */
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
  instrumentS3(client, bucket); // a span and a duration sample per S3 call

  return {
    client,
    bucket,
    /** Whether the bucket answers with these credentials; the caller bounds it with `signal`. */
    async ping(signal: AbortSignal): Promise<void> {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    },

    /**
     * Streams `body` into `key` (multipart above one part). `signal` aborts it, multipart upload
     * included, so nothing is left behind in the bucket.
     */
    async put(key: string, body: Readable, contentType: string, signal: AbortSignal): Promise<void> {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const abort = () => void upload.abort().catch(() => {});
      signal.addEventListener('abort', abort, { once: true });
      try {
        await upload.done();
      } finally {
        signal.removeEventListener('abort', abort);
      }
    },

    /** The object's bytes (or `range` of them) as a stream. */
    async get(key: string, range: { start: number; end: number } | undefined, signal: AbortSignal) {
      const object = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal: signal },
      );
      return object.Body as Readable;
    },

    /** Idempotent: deleting a missing object succeeds. */
    async delete(key: string): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },

    /** A GET URL valid `expiresInS` seconds that downloads under `disposition`. */
    presign(key: string, disposition: string, contentType: string, expiresInS: number): Promise<string> {
      return getSignedUrl(
        client,
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ResponseContentDisposition: disposition,
          ResponseContentType: contentType,
        }),
        { expiresIn: expiresInS },
      );
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
