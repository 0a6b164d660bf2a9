// An OTLP/HTTP trace receiver for tests: it decodes what the app exports with the OpenTelemetry
// project's own protobuf definitions (`http/protobuf`) or as OTLP/JSON (`http/json`), and flattens the
// spans so tests can look for them.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// The protobufjs classes generated from opentelemetry-proto, shipped by @opentelemetry/otlp-transformer
// (0.215, the last release that carried them).
const require = createRequire(import.meta.url);
const { opentelemetry } = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportTraceServiceRequest = opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
};

type AnyValue = {
  stringValue?: string;
  intValue?: number | string | { toNumber(): number };
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };

const anyValue = (value: AnyValue | undefined): unknown => {
  if (!value) return undefined;
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value.intValue !== undefined && value.intValue !== null)
    return typeof value.intValue === 'object' ? value.intValue.toNumber() : Number(value.intValue);
  if (value.doubleValue !== undefined && value.doubleValue !== null) return value.doubleValue;
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  return undefined;
};
const attributesOf = (list: KeyValue[] | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));

// Protobuf ids are bytes; OTLP/JSON ids are already hex strings.
const hex = (id: unknown) =>
  id === undefined || id === null
    ? ''
    : typeof id === 'string'
      ? id
      : Buffer.from(id as Uint8Array).toString('hex');

export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; contentType: string; headers: Record<string, unknown> }[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const contentType = request.headers['content-type'] ?? '';
    requests.push({ path: request.url ?? '', contentType, headers: request.headers });
    // biome-ignore lint/suspicious/noExplicitAny: the decoded message is walked generically below
    const message: any = contentType.includes('json')
      ? JSON.parse(body.toString('utf8'))
      : ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: Number });
    for (const resourceSpans of message.resourceSpans ?? []) {
      const resource = attributesOf(resourceSpans.resource?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          spans.push({
            traceId: hex(span.traceId),
            spanId: hex(span.spanId),
            parentSpanId: hex(span.parentSpanId),
            name: span.name,
            kind: span.kind,
            status: { code: span.status?.code ?? 0, message: span.status?.message },
            attributes: attributesOf(span.attributes),
            events: (span.events ?? []).map((event: { name: string; attributes?: KeyValue[] }) => ({
              name: event.name,
              attributes: attributesOf(event.attributes),
            })),
            resource,
          });
        }
      }
    }
    response.writeHead(200, {
      'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf',
    });
    response.end(contentType.includes('json') ? '{}' : undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    requests,
    /** Waits until `predicate` holds for the spans received so far. */
    async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline)
          throw new Error(`spans never arrived: ${spans.map((s) => s.name).join(', ')}`);
        await sleep(50);
      }
      return spans;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
