import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../../platform/problem.ts';

/** `declaredType` is the part's Content-Type as sent: undefined when the part has none. */
export type FilePart = { stream: Readable; filename: string; mimeType: string; declaredType?: string };
export type Received = {
  file: Promise<FilePart>;
  fields: Promise<Map<string, string>>;
  /** Stops reading the body (after a failure): the rest is left to the server to drain or cut. */
  stop: () => void;
};

const FIELD_LIMITS = { fields: 4, fieldSize: 8 * 1024, parts: 6, files: 1, fieldNameSize: 64 };
// busboy refuses part headers above 16 KiB; the file part's header block always fits in this much of
// what came before the moment busboy announced the part.
const HEADER_WINDOW = 20 * 1024;

const invalid = (path: string, message: string) =>
  new AppError('validation_failed', {
    detail: '1 field is invalid',
    errors: [{ location: 'body', path, message }],
  });

export const endedEarly = () =>
  new AppError('bad_request', {
    detail:
      'The request body ended early: the multipart form was cut off before its closing boundary. Send the whole body again.',
  });

/** busboy's own errors are all about the framing of the body (they carry no code of their own). */
const asProblem = (error: unknown): AppError => {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : '';
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET') {
    return new AppError('bad_request', { detail: 'The client went away before the body was complete' });
  }
  if (/^Unexpected end of (form|file)$/.test(message)) return endedEarly();
  if (message === 'Malformed part header') {
    return new AppError('bad_request', { detail: 'A part of the multipart form has malformed headers' });
  }
  return new AppError('bad_request', { detail: 'Malformed multipart/form-data body' });
};

/**
 * The raw `Content-Type` header of the `file` part, whose headers end in `window` (busboy reports a missing
 * and an unparseable type both as `text/plain`; API.md tells them apart). Parts are delimited by
 * `--boundary` + CRLF, which the content of a part can never contain. `null`: the part's headers were
 * not found (then busboy's reading stands).
 */
function lastPartType(window: Buffer, boundary: string): string | undefined | null {
  if (!boundary) return null;
  // The chunk that announced the file part may also hold later parts (a small body arrives whole):
  // the headers wanted are those of the part named `file`, the last such block in the window.
  const marker = `--${boundary}\r\n`;
  for (
    let start = window.lastIndexOf(marker);
    start >= 0;
    start = start ? window.lastIndexOf(marker, start - 1) : -1
  ) {
    const end = window.indexOf('\r\n\r\n', start);
    const lines = window
      .subarray(start, end < 0 ? undefined : end)
      .toString('latin1')
      .split('\r\n');
    if (!lines.some((line) => /^content-disposition\s*:.*;\s*name="?file"?\s*(;|$)/i.test(line))) continue;
    const line = lines.find((header) => /^content-type\s*:/i.test(header));
    return line?.slice(line.indexOf(':') + 1).trim();
  }
  return null;
}

/**
 * Parses `multipart/form-data` as it arrives (busboy): the `file` part is handed over as a stream the
 * moment its headers are read; text fields are collected until the body ends. Nothing is buffered
 * beyond busboy's own chunks. Every stream here has its error handled: a body that ends early, a
 * client that goes away or a body that stalls for `idleTimeoutMs` rejects `file`/`fields` with a
 * problem, never an unhandled 'error' event.
 */
export function receiveMultipart(
  contentType: string,
  body: Readable,
  options: { idleTimeoutMs: number },
): Received {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      limits: FIELD_LIMITS,
      // Browsers send raw UTF-8 in `filename="…"`; busboy's default would read it as latin1.
      defParamCharset: 'utf8',
    });
  } catch {
    throw new AppError('bad_request', { detail: 'Malformed multipart/form-data boundary' });
  }
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundaryText = boundary?.[1] ?? boundary?.[2] ?? '';
  const fields = new Map<string, string>();
  let resolveFile!: (file: FilePart) => void;
  let rejectFile!: (error: unknown) => void;
  const file = new Promise<FilePart>((resolve, reject) => {
    resolveFile = resolve;
    rejectFile = reject;
  });
  let resolveFields!: (fields: Map<string, string>) => void;
  let rejectFields!: (error: unknown) => void;
  const finished = new Promise<Map<string, string>>((resolve, reject) => {
    resolveFields = resolve;
    rejectFields = reject;
  });
  // The caller awaits `file` first; a failure that only `fields` would report must not go unhandled.
  finished.catch(() => {});
  file.catch(() => {});

  let sawFile = false;
  let failed = false;
  // Until the file part is announced: the latest bytes given to busboy, to read its raw headers from.
  let window: Buffer | undefined = Buffer.alloc(0);

  // Counts only while we wait for the client: a body we paused (the store is slow) is not idle.
  let idle: NodeJS.Timeout | undefined;
  const onIdle = () =>
    fail(
      new AppError('request_timeout', {
        detail: `No bytes of the body arrived for ${options.idleTimeoutMs / 1000} s; the upload was cut off`,
        headers: { Connection: 'close' },
      }),
    );
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(onIdle, options.idleTimeoutMs);
    idle.unref();
  };
  const disarmIdle = () => {
    clearTimeout(idle);
    idle = undefined;
  };
  armIdle();

  const onData = (chunk: Buffer) => {
    idle?.refresh();
    if (window) window = Buffer.concat([window.subarray(-HEADER_WINDOW), chunk]);
    if (!parser.write(chunk)) {
      body.pause();
      disarmIdle();
    }
  };
  const onDrain = () => {
    if (failed) return;
    armIdle();
    body.resume();
  };
  const onEnd = () => {
    disarmIdle();
    parser.end();
  };
  const onBodyError = (error: Error) => fail(error);
  const detach = () => {
    disarmIdle();
    body.off('data', onData);
    body.off('end', onEnd);
    parser.off('drain', onDrain);
    // The error listener stays: a later error (the client going away) then finds one, and is ignored.
    // Left paused: the server drains (or cuts) what the client still sends once it has answered.
    body.pause();
  };

  function fail(error: unknown) {
    if (failed) return;
    failed = true;
    const problem = asProblem(error);
    detach();
    rejectFile(problem);
    rejectFields(problem);
    // Destroying busboy also destroys an open file stream with the same error; its consumer sees it.
    parser.destroy(problem);
  }

  parser.on('file', (name, stream, info) => {
    // Registered before anything else can happen: a file stream is destroyed with the error busboy
    // itself reports (below), so this listener only keeps the event from being unhandled.
    stream.on('error', () => {});
    if (name !== 'file' || sawFile) {
      stream.resume();
      fail(invalid(name, name === 'file' ? 'Exactly one file part is allowed' : 'Unexpected file part'));
      return;
    }
    sawFile = true;
    const raw = window ? lastPartType(window, boundaryText) : null;
    const declaredType = raw === null ? info.mimeType : raw;
    window = undefined;
    resolveFile({ stream, filename: info.filename ?? '', mimeType: info.mimeType, declaredType });
  });
  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) fail(invalid(name, 'Too long'));
    else fields.set(name, value);
  });
  for (const limit of ['filesLimit', 'fieldsLimit', 'partsLimit'] as const) {
    parser.on(limit, () => fail(invalid('', `Too many parts (${limit.replace('Limit', '')})`)));
  }
  parser.on('error', fail);
  parser.on('close', () => {
    if (failed) return;
    detach();
    if (!sawFile) {
      fail(invalid('file', 'Required'));
      return;
    }
    resolveFields(fields);
  });
  parser.on('drain', onDrain);

  body.on('error', onBodyError);
  if (body.destroyed) {
    fail(new AppError('bad_request', { detail: 'The client went away before the body was complete' }));
  } else {
    body.on('data', onData);
    body.on('end', onEnd);
  }
  return { file, fields: finished, stop: () => fail(new AppError('bad_request')) };
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
