// A TCP proxy in front of a real service that slows down what the service sends back: a slow object store
// for the tests that must act while an export is still streaming (cancel it, stop its worker).
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { Transform } from 'node:stream';
import { afterAll } from 'vitest';

/** Lets `bytesPerSecond` through, in 50 ms slices. */
function throttle(bytesPerSecond: number) {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  return new Transform({
    async transform(chunk: Buffer, _encoding, done) {
      for (let offset = 0; offset < chunk.length; offset += slice) {
        this.push(chunk.subarray(offset, offset + slice));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      done();
    },
  });
}

export async function startThrottleProxy(target: string, bytesPerSecond: number): Promise<string> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    // When the service closes, the client still gets what the throttle holds: the pipes end it after the
    // last byte (destroying it at once cut responses short: "socket hang up").
    client.on('error', () => upstream.destroy()).on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(throttle(bytesPerSecond)).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}
