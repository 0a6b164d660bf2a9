import { randomBytes } from 'node:crypto';

/**
 * The multipart/form-data framing around one `file` part, for hand-built streaming upload bodies
 * (tests and benchmarks): write `head`, the bytes, then `tail`, with `contentType` as the header.
 */
export function multipartFrame(name: string, type: string) {
  const boundary = `----stowage${randomBytes(8).toString('hex')}`;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    head: Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    tail: Buffer.from(`\r\n--${boundary}--\r\n`),
  };
}
