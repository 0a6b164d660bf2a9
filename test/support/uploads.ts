// Upload helpers for the document tests: a FormData upload through fetch, and a raw streaming one
// over node:http whose body the test controls byte by byte (to stop halfway, or send gigabytes).
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { multipartFrame } from '../../src/dev/multipart-frame.ts';
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

export { multipartFrame };

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
      // A server that answers early and closes cuts the socket under our writes: the response (small,
      // in one packet) has arrived by then, so what was read when the stream closes is the answer.
      const done = () => resolveResponse({ status: res.statusCode ?? 0, body });
      res.on('end', done);
      res.on('close', done);
    },
  );
  // After an early answer our next write fails with EPIPE; the response may still be on its way.
  req.on('error', (error) => setTimeout(() => rejectResponse(error), 500));
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

/**
 * A chunked upload over a raw socket that keeps reading while it writes (as curl does): node:http's
 * client drops a response it has already received once a write fails with EPIPE, which is exactly
 * what a server that refuses early causes. Sends `bytes` of file content, then waits for the answer.
 */
export async function rawChunkedUpload(server: TestServer, token: string, bytes: number) {
  const { connect } = await import('node:net');
  const url = new URL(server.url);
  const frame = multipartFrame('raw.pdf', 'application/pdf');
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  let sent = 0;
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      received += chunk;
      if (/\r\n\r\n[\s\S]*\}$/.test(received)) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.on('error', () => {});
  const chunked = (data: Buffer) =>
    Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
  socket.write(
    `POST /v1/documents HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: ${frame.contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  socket.write(chunked(frame.head));
  const block = Buffer.alloc(256 * 1024, 3);
  let done = false;
  void answered.then(() => {
    done = true;
  });
  while (sent < bytes && !done && !socket.destroyed) {
    const ok = socket.write(chunked(block));
    sent += block.length;
    if (!ok) await Promise.race([new Promise((r) => socket.once('drain', r)), answered]);
  }
  await Promise.race([answered, new Promise((r) => setTimeout(r, 10_000))]);
  socket.destroy();
  const [head = '', body = ''] = received.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body, sent };
}
