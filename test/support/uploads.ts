// Upload helpers for the document tests: a FormData upload through fetch, and a raw streaming one
// over node:http whose body the test controls byte by byte (to stop halfway, or send gigabytes).
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createStorage } from '../../src/storage/storage.ts';
import type { Json } from './api.ts';
import type { TestServer } from './harness.ts';

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function upload(
  server: TestServer,
  token: string,
  file: { bytes: Uint8Array; name?: string; type?: string },
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append(
    'file',
    new Blob([file.bytes], { type: file.type ?? 'application/pdf' }),
    file.name ?? 'report.pdf',
  );
  const response = await fetch(`${server.url}/v1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...headers },
    body: form,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Json) : undefined,
  };
}

export const randomFile = (size: number) => new Uint8Array(randomBytes(size));

/** The multipart framing around one file part, for hand-built streaming bodies. */
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

/** Starts a streaming upload; the caller writes the body and ends (or destroys) the request. */
export function streamingUpload(
  server: TestServer,
  token: string,
  frame: ReturnType<typeof multipartFrame>,
  contentLength?: number,
) {
  const url = new URL(`${server.url}/v1/documents`);
  let resolveResponse!: (value: { status: number; body: string }) => void;
  let rejectResponse!: (error: Error) => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    resolveResponse = resolve;
    rejectResponse = reject;
  });
  const req = request(
    {
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': frame.contentType,
        ...(contentLength === undefined ? {} : { 'content-length': String(contentLength) }),
      },
    },
    (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, body }));
    },
  );
  req.on('error', rejectResponse);
  response.catch(() => {});
  return { req, response };
}

/** Keys and sizes of every object in the bucket of this server. */
export async function bucketObjects(server: TestServer) {
  const storage = createStorage({ ...server.config.s3, endpoint: server.config.s3.endpoint! });
  try {
    const listed = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket }));
    return (listed.Contents ?? []).map((object) => ({ key: object.Key!, size: object.Size ?? 0 }));
  } finally {
    storage.close();
  }
}
