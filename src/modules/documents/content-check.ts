import { Transform, type TransformCallback } from 'node:stream';
import { fileTypeFromBuffer, supportedMimeTypes } from 'file-type';
import { AppError } from '../../platform/problem.ts';
import type { FilePart } from './upload-stream.ts';

// file-type's own figure for what its detectors read at most from the start of a file.
const SAMPLE_BYTES = 4100;

// ZIP-based formats: from the first bytes file-type may only see "a ZIP".
const ZIP_BASED =
  /^application\/(zip|x-zip-compressed|epub\+zip|java-archive|vnd\.openxmlformats-officedocument\..+|vnd\.oasis\.opendocument\..+|vnd\.ms-.+\.macroenabled\..+)$/;
// Compound File Binary: the container of the legacy Office formats.
const CFB_BASED = /^application\/(msword|vnd\.ms-excel|vnd\.ms-powerpoint|vnd\.ms-outlook|x-cfb)$/;
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'application/x-pdf': 'application/pdf',
  'application/x-zip-compressed': 'application/zip',
  'audio/mp3': 'audio/mpeg',
};
const canonical = (type: string) => ALIASES[type] ?? type;

export const allows = (allowed: string[], type: string) =>
  allowed.some((entry) => entry === type || (entry.endsWith('/*') && type.startsWith(entry.slice(0, -1))));

/** What a 415 tells the client it could send instead. */
export const acceptedTypesHint = (allowed: string[]) =>
  `Accepted types: ${allowed.join(', ')} (the part's Content-Type, with bytes that match it)`;

/**
 * Whether bytes whose signature file-type read as `detected` may be stored as `declared`. A declared
 * type that has a signature must show it; a type without one (text, CSV, JSON…) must not look like a
 * known binary format.
 */
export function bytesMatch(declared: string, detected: string | undefined): boolean {
  const type = canonical(declared);
  if (type === 'application/octet-stream') return true; // "some bytes": nothing to contradict
  if (!detected) return !supportedMimeTypes.has(type as never);
  const found = canonical(detected);
  if (found === type) return true;
  if (found === 'application/zip' || ZIP_BASED.test(found)) return ZIP_BASED.test(type);
  if (found === 'application/x-cfb') return CFB_BASED.test(type);
  return false;
}

/**
 * Holds back the first bytes of the file (at most SAMPLE_BYTES, never the file) until file-type has
 * read their signature; if they do not match the declared type the stream fails with 415, so nothing
 * reaches storage.
 */
export class SignatureCheck extends Transform {
  readonly #declared: string;
  readonly #allowed: string[];
  #head: Buffer[] = [];
  #headBytes = 0;
  #checked = false;

  constructor(declared: string, allowed: string[]) {
    super();
    this.#declared = declared;
    this.#allowed = allowed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#checked) {
      done(null, chunk);
      return;
    }
    this.#head.push(chunk);
    this.#headBytes += chunk.length;
    if (this.#headBytes < SAMPLE_BYTES) {
      done();
      return;
    }
    this.#check(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.#checked) done();
    else this.#check(done);
  }

  #check(done: TransformCallback): void {
    this.#checked = true;
    const head = Buffer.concat(this.#head);
    this.#head = [];
    fileTypeFromBuffer(head).then(
      (detected) => {
        if (bytesMatch(this.#declared, detected?.mime)) {
          done(null, head);
          return;
        }
        done(
          new AppError('unsupported_media_type', {
            detail: `${
              detected
                ? `The file's bytes are ${detected.mime}, not the declared ${this.#declared}.`
                : `The file's bytes do not carry the signature of the declared ${this.#declared}.`
            } Declare the type the bytes really have. ${acceptedTypesHint(this.#allowed)}`,
          }),
        );
      },
      (error: unknown) => done(error as Error),
    );
  }
}

/**
 * The content type a document is stored under (API.md): the part's declared type, or
 * `application/octet-stream` when it declares none. An unparseable type is 415, never a guess; with an
 * allowlist the type must be on it (the bytes are checked as they stream).
 */
export function storedType(part: FilePart, allowed: string[]): string {
  const hint = allowed.length ? acceptedTypesHint(allowed) : 'Any well-formed type is accepted';
  if (part.declaredType === undefined) {
    if (allowed.length && !allows(allowed, 'application/octet-stream')) {
      throw new AppError('unsupported_media_type', {
        detail: `The file part has no Content-Type. ${hint}`,
      });
    }
    return 'application/octet-stream';
  }
  // busboy reads a type it cannot parse as text/plain; only a part that says text/plain is one.
  if (part.mimeType === 'text/plain' && !/^text\/plain\s*(;|$)/i.test(part.declaredType)) {
    throw new AppError('unsupported_media_type', {
      detail: `The file part's Content-Type "${part.declaredType.slice(0, 100)}" is not a valid media type (type/subtype). ${hint}`,
    });
  }
  if (allowed.length && !allows(allowed, part.mimeType)) {
    throw new AppError('unsupported_media_type', {
      detail: `Documents of type ${part.mimeType} are not accepted here. ${hint}`,
    });
  }
  return part.mimeType;
}
