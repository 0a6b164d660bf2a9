// Sends a generated request with node:http (any method token, bodies on any method, a keep-alive pool
// like a real client's) or, for framing no client library would produce, over a raw socket.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { FuzzRequest } from './requests.ts';

export type FuzzResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when no answer came: the connection was closed (`closed`) or nothing happened in time. */
  noAnswer?: 'closed' | 'timeout';
  error?: string;
};

const TIMEOUT_MS = 15_000;

export function createSender(baseUrl: string) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  function viaHttp(r: FuzzRequest): Promise<FuzzResponse> {
    return new Promise((resolve) => {
      const body = r.padBytes
        ? Buffer.from(JSON.stringify({ pad: 'x'.repeat(r.padBytes) }))
        : r.bodyBase64
          ? Buffer.from(r.bodyBase64, 'base64')
          : r.body !== undefined
            ? Buffer.from(r.body)
            : undefined;
      const headers: Record<string, string> = { ...r.headers };
      if (body) headers['content-length'] = String(body.length);
      let req: ReturnType<typeof request>;
      try {
        req = request({
          host: url.hostname,
          port: url.port,
          method: r.method,
          path: r.path,
          headers,
          agent,
          timeout: TIMEOUT_MS,
        });
      } catch (error) {
        // node:http refuses to send it (an invalid path or header): nothing reached the server.
        resolve({ status: 0, headers: {}, body: '', error: `client refused: ${(error as Error).message}` });
        return;
      }
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', (error) =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', error: error.message }),
        );
      });
      req.on('timeout', () => {
        req.destroy();
        resolve({ status: 0, headers: {}, body: '', noAnswer: 'timeout' });
      });
      req.on('error', (error) => resolve({ status: 0, headers: {}, body: '', error: error.message }));
      req.end(body);
    });
  }

  function viaSocket(r: FuzzRequest): Promise<FuzzResponse> {
    return new Promise((resolve) => {
      const socket = connect(Number(url.port), url.hostname);
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        finish('timeout');
      }, TIMEOUT_MS);
      let done = false;
      const finish = (noAnswer?: 'closed' | 'timeout') => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('latin1');
        const [head = '', ...rest] = text.split('\r\n\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        const headers: Record<string, string> = {};
        for (const line of head.split('\r\n').slice(1)) {
          const at = line.indexOf(':');
          if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
        }
        resolve({
          status,
          headers,
          body: rest.join('\r\n\r\n'),
          noAnswer: status ? undefined : (noAnswer ?? 'closed'),
        });
      };
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => finish());
      socket.on('error', () => {});
      // Half-close after the bytes: the truncated-body cases end here, as a client that gave up would.
      socket.end(Buffer.from(r.raw!, 'latin1'));
    });
  }

  return {
    send: (r: FuzzRequest) => (r.raw !== undefined ? viaSocket(r) : viaHttp(r)),
    close: () => agent.destroy(),
  };
}
