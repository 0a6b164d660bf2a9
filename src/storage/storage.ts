import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StandardRetryStrategy } from '@smithy/core/retry';
import type { Config } from '../config.ts';
import { instrumentS3 } from '../telemetry/s3.ts';
import { ByteWindow } from './byte-window.ts';

export type Storage = ReturnType<typeof createStorage>;

// lib-storage holds partSize × queueSize of a stream, plus one part being assembled and its copy.
// S3's minimum part, two in flight: one part reaches the store while the next is read (issue 18,
// `pnpm bench upload`: 0.71 → 0.86–0.89 of a direct lib-storage copy's MiB/s, RSS growth of a 1 GiB
// upload 77–87 MiB with --max-semi-space-size=8, under the 96 MiB bound).
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
const MAX_ATTEMPTS = 3;
/** Bodies up to this size go to the store as one PutObject; larger ones through lib-storage. */
const SINGLE_PUT_MAX = 1024 * 1024;

/**
 * Reads `body` until it ends or more than `max` bytes have come. `rest()` then yields every byte of the
 * body, those already read first; an error of the body surfaces from either.
 */
async function readHead(body: Readable, max: number) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const iterator: AsyncIterator<Buffer> = body[Symbol.asyncIterator]();
  let ended = false;
  while (bytes <= max) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    bytes += next.value.length;
  }
  async function* rest() {
    yield* chunks;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { chunks, bytes, ended, rest };
}

const isTimeout = (error: unknown) =>
  error instanceof Error &&
  (error.name === 'TimeoutError' || (error as { code?: string }).code === 'ETIMEDOUT');

/**
 * The SDK's standard retries, except after a timeout: a store that hung once hangs again, and three
 * attempts would triple S3_TIMEOUT_MS (a refused connection or a 503 from the store is still retried).
 */
class NoRetryAfterTimeout extends StandardRetryStrategy {
  override async refreshRetryTokenForRetry(
    ...args: Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>
  ) {
    if (isTimeout(args[1].error)) throw args[1].error;
    return super.refreshRetryTokenForRetry(...args);
  }
}

/** Thrown (as the abort reason) when one S3 call outlives S3_TIMEOUT_MS. */
export class StorageTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`The object store did not answer within ${timeoutMs} ms`);
  }
}

/** The object store behind document bytes: streaming put, ranged get, delete, presigned GET. */
export function createStorage(config: Config['s3'] & { endpoint: string }) {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps
    // waiting: a store that accepts connections but never answers then hangs every request.
    requestHandler: {
      connectionTimeout: Math.min(config.timeoutMs, 5000),
      requestTimeout: config.timeoutMs,
      throwOnRequestTimeout: true,
    },
    retryStrategy: new NoRetryAfterTimeout(MAX_ATTEMPTS),
  });
  const bucket = config.bucket;
  instrumentS3(client, bucket); // a span and a duration sample per S3 call

  /**
   * Runs one call with a signal that also fires after S3_TIMEOUT_MS, bounding the call as a whole
   * (retries and their back-off included). The deadline ends once the call resolves (for a GET: when
   * the headers arrived), so a long download is not cut; the caller's signal keeps applying to it.
   */
  async function bounded<T>(signal: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>) {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new StorageTimeoutError(config.timeoutMs)),
      config.timeoutMs,
    );
    const follow = () => controller.abort(signal?.reason);
    if (signal?.aborted) follow();
    else signal?.addEventListener('abort', follow, { once: true });
    try {
      return await call(controller.signal);
    } catch (error) {
      // The SDK reports an abort as its own AbortError; the reason says whether it was the deadline.
      throw controller.signal.aborted && controller.signal.reason instanceof StorageTimeoutError
        ? controller.signal.reason
        : error;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    client,
    bucket,
    /** Whether the bucket answers with these credentials; the caller bounds it with `signal`. */
    async ping(signal: AbortSignal): Promise<void> {
      await bounded(signal, (abortSignal) =>
        client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal }),
      );
    },

    /**
     * Streams `body` into `key` (multipart above one part). `signal` aborts it, multipart upload
     * included, so nothing is left behind in the bucket. Each request to the store (one per 5 MiB
     * part) is bounded by S3_TIMEOUT_MS through the handler's requestTimeout; the whole upload is not,
     * since it moves at the client's pace.
     */
    async put(key: string, body: Readable, contentType: string, signal: AbortSignal): Promise<void> {
      // A small body (most documents) is one PutObject of the bytes already read: lib-storage would
      // make the same single request, but its part machinery costs ~40 % more CPU per call (measured).
      // An abort while the head is read ends that read too (its error is then the body's).
      const stopReading = () => body.destroy(signal.reason);
      signal.addEventListener('abort', stopReading, { once: true });
      const head = await readHead(body, SINGLE_PUT_MAX).finally(() =>
        signal.removeEventListener('abort', stopReading),
      );
      if (head.ended) {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: Buffer.concat(head.chunks),
            ContentLength: head.bytes,
            ContentType: contentType,
          }),
          { abortSignal: signal },
        );
        return;
      }
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: Readable.from(head.rest()), ContentType: contentType },
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
      const object = await bounded(signal, (abortSignal) =>
        client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
          { abortSignal },
        ),
      );
      const body = object.Body as Readable;
      if (!range) return body;
      // Never trust the store to have honoured the range: send exactly the bytes we announced.
      const expected = range.end - range.start + 1;
      const honoured = object.ContentRange?.startsWith(`bytes ${range.start}-${range.end}/`) ?? false;
      if (honoured && object.ContentLength === expected) return body;
      const window = new ByteWindow(honoured ? 0 : range.start, expected);
      window.on('close', () => body.destroy());
      return body.on('error', (error) => window.destroy(error)).pipe(window);
    },

    /** Idempotent: deleting a missing object succeeds. */
    async delete(key: string, signal?: AbortSignal): Promise<void> {
      await bounded(signal, (abortSignal) =>
        client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
      );
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
        await bounded(undefined, (abortSignal) =>
          client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal }),
        );
      } catch {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      }
    },
    close: () => client.destroy(),
  };
}

/** Keys under `prefix` (every page), for removing what an export attempt may have left. */
export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await storage.client.send(
      new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
