import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Upload } from '@aws-sdk/lib-storage';
import yazl from 'yazl';
import type { Storage } from '../../storage/storage.ts';

const MIN_PART = 5 * 1024 * 1024;
// S3 allows 10 000 parts; leave room for ZIP headers, the manifest and a wrong estimate.
const MAX_PARTS = 9000;

/** Counts and hashes what passes through, for the entry or the archive it belongs to. */
export class Digest extends Transform {
  readonly #hash = createHash('sha256');
  readonly #onChunk: ((bytes: number) => void) | undefined;
  bytes = 0;
  constructor(onChunk?: (bytes: number) => void) {
    super();
    this.#onChunk = onChunk;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    this.#onChunk?.(chunk.length);
    this.push(chunk);
    done();
  }
  get sha256(): string {
    return this.#hash.copy().digest('hex');
  }
}

export type ZipEntrySource = { path: string; size: number; mtime: Date; open: () => Promise<Readable> };

/**
 * A ZIP written straight into a multipart upload: yazl reads one entry's source at a time (each opened
 * only when reached, by the caller), and the upload holds at most a part or two, so memory stays flat
 * whatever the archive's size. `signal` aborts everything, the multipart upload included: an aborted
 * archive leaves no object.
 */
export function createZipUpload(options: {
  storage: Storage;
  key: string;
  expectedBytes: number;
  forceZip64: boolean;
  signal: AbortSignal;
  onBytes: (bytes: number) => void;
}) {
  const { storage, key, signal } = options;
  const zip = new yazl.ZipFile();
  const archive = new Digest(options.onBytes);
  const output = zip.outputStream as unknown as Readable;
  output.pipe(archive);
  const partSize = Math.max(MIN_PART, Math.ceil(options.expectedBytes / MAX_PARTS));
  const upload = new Upload({
    client: storage.client,
    params: { Bucket: storage.bucket, Key: key, Body: archive, ContentType: 'application/zip' },
    partSize,
    queueSize: 1,
    leavePartsOnError: false,
  });
  let current: Readable | undefined;
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    void upload.abort().catch(() => {});
    current?.destroy(error as Error);
    output.unpipe(archive);
    archive.destroy(error as Error);
  };
  const onAbort = () => fail(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  zip.on('error', fail);
  const uploaded = upload.done().catch((error: unknown) => {
    fail(error);
    throw failure;
  });
  uploaded.catch(() => {});
  const entryOptions = { compress: false, forceZip64Format: options.forceZip64 };

  return {
    /** Streams one entry; resolves with its digest once yazl has consumed all of it. */
    async add(
      entry: Omit<ZipEntrySource, 'open'>,
      source: Readable,
    ): Promise<{ sha256: string; bytes: number }> {
      if (failure) throw failure;
      const digest = new Digest();
      current = source;
      source.on('error', (error) => digest.destroy(error));
      source.pipe(digest);
      zip.addReadStream(digest, entry.path, { ...entryOptions, size: entry.size, mtime: entry.mtime });
      try {
        await finished(digest);
      } catch (error) {
        throw failure ?? error;
      }
      if (failure) throw failure;
      current = undefined;
      return { sha256: digest.sha256, bytes: digest.bytes };
    },
    /** The last entry (compressed), then the central directory; resolves once the object is complete. */
    async finish(path: string, last: Readable): Promise<{ sha256: string; sizeBytes: number }> {
      if (failure) throw failure;
      zip.addReadStream(last, path, {
        compress: true,
        forceZip64Format: options.forceZip64,
        mtime: new Date(),
      });
      zip.end({ forceZip64Format: options.forceZip64, comment: '' });
      try {
        await uploaded;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      if (failure) throw failure;
      return { sha256: archive.sha256, sizeBytes: archive.bytes };
    },
    abort(error: unknown) {
      fail(error);
      signal.removeEventListener('abort', onAbort);
    },
  };
}
