// Hand-framed HTTP/1.1 over a raw socket, for bodies no ordinary client sends: cut short, half-closed,
// or lying about their length. Whatever the server writes back is read until it closes (or a timeout).
import { connect } from 'node:net';
import { multipartFrame } from '../../src/dev/multipart-frame.ts';

export type RawAnswer = { status: number; headers: Record<string, string>; body: string };

/** Every HTTP/1.1 response in `text` (there may be several on one connection), in order. */
export function parseResponses(text: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    answers.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return answers;
}

/**
 * Sends `head` then `body` on one connection, then half-closes it (FIN) unless `halfClose` is false,
 * and collects what comes back until the server closes or `timeoutMs` passes.
 */
export function rawExchange(
  url: string,
  head: string,
  body: Buffer,
  options: { halfClose?: boolean; timeoutMs?: number; answers?: number } = {},
): Promise<{ answers: RawAnswer[]; raw: string }> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    let raw = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers: parseResponses(raw), raw });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 5000);
    socket.on('data', (chunk) => {
      raw += chunk.toString('latin1');
      if (options.answers && parseResponses(raw).length >= options.answers) finish();
    });
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.on('end', finish);
    socket.write(head);
    socket.write(body, () => {
      if (options.halfClose !== false) socket.end();
    });
  });
}

export type TruncatedKind =
  | 'exact-length'
  | 'exact-length-half-closed'
  | 'short-length-half-closed'
  | 'long-length-half-closed'
  | 'chunked-mid-part'
  | 'chunked-unterminated-half-closed'
  | 'mid-headers';

export const TRUNCATED_KINDS: TruncatedKind[] = [
  'exact-length',
  'exact-length-half-closed',
  'short-length-half-closed',
  'long-length-half-closed',
  'chunked-mid-part',
  'chunked-unterminated-half-closed',
  'mid-headers',
];

const chunk = (data: Buffer) =>
  Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);

/**
 * One upload of `kind` whose multipart body ends before its closing boundary: the head of the request,
 * the bytes that are sent, and whether the client then half-closes (after which Node aborts the
 * request: no answer can arrive). `fileBytes` of content go out before the cut.
 */
export function truncatedUpload(kind: TruncatedKind, url: string, token: string, fileBytes = 70_000) {
  const frame = multipartFrame('cut.pdf', 'application/pdf');
  const content = Buffer.alloc(fileBytes, 0x41);
  const partial =
    kind === 'mid-headers'
      ? frame.head.subarray(0, Math.floor(frame.head.length / 2))
      : Buffer.concat([frame.head, content]);
  const { host } = new URL(url);
  const start = `POST /v1/documents HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${frame.contentType}\r\n`;
  const halfClose = kind.endsWith('-half-closed');
  const length = (declared: number) => ({
    head: `${start}Content-Length: ${declared}\r\n\r\n`,
    body: partial,
    halfClose,
  });
  switch (kind) {
    case 'exact-length':
    case 'exact-length-half-closed':
    case 'mid-headers':
      return length(partial.length);
    case 'short-length-half-closed':
      // The declared length ends inside the file part; what follows is read as the next request.
      return length(partial.length - 1000);
    case 'long-length-half-closed':
      return length(partial.length + 50_000);
    case 'chunked-mid-part':
      return {
        head: `${start}Transfer-Encoding: chunked\r\n\r\n`,
        body: Buffer.concat([chunk(partial), Buffer.from('0\r\n\r\n')]),
        halfClose,
      };
    case 'chunked-unterminated-half-closed':
      return { head: `${start}Transfer-Encoding: chunked\r\n\r\n`, body: chunk(partial), halfClose };
  }
}
