import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes exactly `take` bytes after skipping `skip`, then ends. A store that ignores a Range (s3rver
 * answers `bytes=0-0` with the whole object) would otherwise put more bytes on the wire than the
 * Content-Length we announced, corrupting the connection for the client's next response.
 */
export class ByteWindow extends Transform {
  #skip: number;
  #left: number;

  constructor(skip: number, take: number) {
    super();
    this.#skip = skip;
    this.#left = take;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let bytes = chunk;
    if (this.#skip > 0) {
      const skipped = Math.min(this.#skip, bytes.length);
      this.#skip -= skipped;
      bytes = bytes.subarray(skipped);
    }
    if (this.#left > 0 && bytes.length > 0) {
      const kept = bytes.subarray(0, this.#left);
      this.#left -= kept.length;
      this.push(kept);
    }
    if (this.#left === 0) this.push(null);
    done();
  }
}
