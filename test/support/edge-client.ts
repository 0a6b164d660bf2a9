// A client of the stack through its TLS edge: JSON calls, multipart uploads, downloads with their hash.
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:http2';
import { multipartFrame } from '../../src/dev/multipart-frame.ts';
import { https, json } from './docker.ts';

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export function edgeClient(base: string, ca: string) {
  const call = (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    https(`${base}${path}`, {
      ca,
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body)),
    });
  return {
    call,
    async login(email: string, password: string) {
      return call('POST', '/v1/auth/login', { body: { email, password } });
    },
    async upload(token: string, bytes: Buffer, name: string, type = 'application/pdf') {
      const frame = multipartFrame(name, type);
      const response = await https(`${base}/v1/documents`, {
        ca,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': frame.contentType },
        body: Buffer.concat([frame.head, bytes, frame.tail]),
      });
      return { ...response, json: response.status < 300 ? json(response).document : undefined };
    },
    async downloadHash(token: string, id: string) {
      const response = await call('GET', `/v1/documents/${id}/content`, { token });
      return { status: response.status, sha256: sha256(response.body), bytes: response.body.length };
    },
    /** ALPN and one request over HTTP/2. */
    http2Get(
      path: string,
    ): Promise<{ alpn: string | false | undefined; status: number; headers: Record<string, unknown> }> {
      return new Promise((resolve, reject) => {
        const session = connect(base, { ca });
        session.on('error', reject);
        const req = session.request({ ':path': path });
        req.on('response', (headers) => {
          req.resume();
          req.on('end', () => {
            resolve({ alpn: session.alpnProtocol, status: Number(headers[':status']), headers });
            session.close();
          });
        });
        req.on('error', reject);
        req.end();
      });
    },
  };
}

export const randomBytesBuffer = (size: number) => randomBytes(size);
