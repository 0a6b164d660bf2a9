// A local OTLP/HTTP endpoint for benchmarks with tracing on: it reads every export and drops it.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers every OTLP export 200 after reading it, like a collector that drops everything. */
export async function startOtlpSink() {
  let exports = 0;
  let bytes = 0;
  const server = createServer(async (request, response) => {
    for await (const chunk of request) bytes += (chunk as Buffer).length;
    exports++;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get exports() {
      return exports;
    },
    get bytes() {
      return bytes;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
