// The OpenTelemetry SDK: imported (dynamically) only when tracing is on, so a process without an OTLP
// endpoint never loads it. No module-patching instrumentation: the production build is an esbuild
// bundle that such hooks do not see (PITFALLS), so spans come from the seams this code owns.
import { context, DiagLogLevel, diag, type Sampler, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config.ts';
import type { Logger } from '../platform/logger.ts';
import { useTracing } from './tracing.ts';
import { VERSION } from './version.ts';

type TracingConfig = Config['telemetry']['tracing'];

export type RunningTracing = { shutdown: () => Promise<void> };

/** The specification's `OTEL_TRACES_SAMPLER` values. */
export function samplerOf(name: TracingConfig['sampler'], ratio: number): Sampler {
  const root = name.endsWith('always_on')
    ? new AlwaysOnSampler()
    : name.endsWith('always_off')
      ? new AlwaysOffSampler()
      : new TraceIdRatioBasedSampler(ratio);
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** `key=value,key2=value2` with URL-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
export function parseKeyValues(text: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of (text ?? '').split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) continue;
    try {
      pairs[decodeURIComponent(item.slice(0, at).trim())] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      // A malformed escape: the pair is skipped, as the specification asks.
    }
  }
  return pairs;
}

async function exporterFor(config: TracingConfig): Promise<SpanExporter> {
  const options = {
    url: config.url,
    headers: parseKeyValues(config.headers),
    timeoutMillis: config.timeoutMs,
  };
  // Only the encoding in use is loaded.
  const { OTLPTraceExporter } =
    config.protocol === 'http/json'
      ? await import('@opentelemetry/exporter-trace-otlp-http')
      : await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}

/** Starts the tracer provider, the async context and the W3C propagator; `shutdown` flushes the spans. */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<RunningTracing> {
  // Export failures would otherwise be silent (the API's diag logger is a no-op).
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ otel: args.map(String) }, `opentelemetry: ${message}`),
      warn: (message, ...args) => logger.warn({ otel: args.map(String) }, `opentelemetry: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.version': VERSION,
      'process.pid': process.pid,
      ...parseKeyValues(config.resourceAttributes),
      // The specification: OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES.
      'service.name': config.serviceName,
    }),
    sampler: samplerOf(config.sampler, config.samplerRatio),
    spanProcessors: [new BatchSpanProcessor(await exporterFor(config), config.batch)],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  useTracing({ tracer: provider.getTracer('stowage', VERSION), propagator: new W3CTraceContextPropagator() });
  let stopped: Promise<void> | undefined;
  return {
    shutdown: () => {
      stopped ??= (async () => {
        useTracing(undefined);
        await provider.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'span flush failed'));
      })();
      return stopped;
    },
  };
}
