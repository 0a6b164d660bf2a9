import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../../platform/problem.ts';

export type FilePart = { stream: Readable; filename: string; mimeType: string };
export type Received = { file: Promise<FilePart>; fields: Promise<Map<string, string>> };

const FIELD_LIMITS = { fields: 4, fieldSize: 8 * 1024, parts: 6, files: 1, fieldNameSize: 64 };
const invalid = (path: string, message: string) =>
  new AppError('validation_failed', {
    detail: '1 field is invalid',
    errors: [{ location: 'body', path, message }],
  });

/**
 * Parses `multipart/form-data` as it arrives (busboy): the `file` part is handed over as a stream the
 * moment its headers are read; text fields are collected until the body ends. Nothing is buffered
 * beyond busboy's own chunks.
 */
export function receiveMultipart(contentType: string, body: Readable): Received {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      limits: FIELD_LIMITS,
    });
  } catch {
    throw new AppError('bad_request', { detail: 'Malformed multipart/form-data boundary' });
  }
  const fields = new Map<string, string>();
  let resolveFile!: (file: FilePart) => void;
  let rejectFile!: (error: unknown) => void;
  const file = new Promise<FilePart>((resolve, reject) => {
    resolveFile = resolve;
    rejectFile = reject;
  });
  let sawFile = false;

  const finished = new Promise<Map<string, string>>((resolve, reject) => {
    const fail = (error: unknown) => {
      rejectFile(error);
      reject(error);
    };
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || sawFile) {
        stream.resume();
        fail(invalid(name, name === 'file' ? 'Exactly one file part is allowed' : 'Unexpected file part'));
        return;
      }
      sawFile = true;
      resolveFile({ stream, filename: info.filename ?? '', mimeType: info.mimeType });
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(invalid(name, 'Too long'));
      else fields.set(name, value);
    });
    for (const limit of ['filesLimit', 'fieldsLimit', 'partsLimit'] as const) {
      parser.on(limit, () => fail(invalid('', `Too many parts (${limit.replace('Limit', '')})`)));
    }
    parser.on('error', (error) =>
      fail(
        error instanceof AppError
          ? error
          : new AppError('bad_request', { detail: 'Malformed multipart/form-data body' }),
      ),
    );
    parser.on('close', () => {
      if (!sawFile) fail(invalid('file', 'Required'));
      resolve(fields);
    });
  });
  // The caller awaits `file` first; a failure that only `fields` would report must not go unhandled.
  finished.catch(() => {});
  file.catch(() => {});

  body.on('error', (error) => parser.destroy(error));
  body.pipe(parser);
  return { file, fields: finished };
}

/**
 * Counts and hashes bytes on their way to storage, and stops the stream as soon as it passes `limit`
 * with the error `onExceed` gives: the client learns at once, not after sending everything.
 */
export class MeteredStream extends Transform {
  bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #limit: number;
  readonly #onExceed: () => Error;

  constructor(limit: number, onExceed: () => Error) {
    super();
    this.#limit = limit;
    this.#onExceed = onExceed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) {
      done(this.#onExceed());
      return;
    }
    this.#hash.update(chunk);
    done(null, chunk);
  }

  get sha256(): string {
    return this.#hash.digest('hex');
  }
}
