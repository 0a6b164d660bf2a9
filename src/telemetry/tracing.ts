// The app's side of tracing: a tracer the seams (request middleware, postgres.js wrapper, S3 client,
// rate limits, argon2) use when the OpenTelemetry SDK runs, and nothing at all when it does not.
// Only `@opentelemetry/api` is loaded here (a no-op facade); the SDK itself (src/telemetry/sdk.ts) is
// imported dynamically, and only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export type { Span };
export { SpanKind };

type Tracing = { tracer: Tracer; propagator: TextMapPropagator };

let active: Tracing | undefined;

/** Set by the SDK when it starts (and cleared when it stops). */
export function useTracing(tracing: Tracing | undefined): void {
  active = tracing;
}

export const tracingEnabled = (): boolean => active !== undefined;

/** The W3C trace-context propagator, while tracing runs. */
export const propagator = (): TextMapPropagator | undefined => active?.propagator;

/** A span under the active one (not made active itself: for leaf work such as one query or S3 call). */
export function startSpan(name: string, attributes: Attributes, kind = SpanKind.CLIENT): Span | undefined {
  return active?.tracer.startSpan(name, { kind, attributes });
}

/** A SERVER span, child of `parent` (an extracted trusted `traceparent`) or a new root. */
export function startServerSpan(name: string, attributes: Attributes, parent: Context): Span | undefined {
  return active?.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/**
 * Runs `work` inside a span that is active meanwhile (so the queries it makes are its children); with
 * tracing off it runs `work` and nothing else.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span | undefined) => Promise<T>,
  kind = SpanKind.INTERNAL,
): Promise<T> {
  if (!active) return work(undefined);
  return active.tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` failed with the exception as an event (type, message, stack: never request data). */
export function failSpan(span: Span | undefined, error: unknown): void {
  if (!span) return;
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute('error.type', error.name);
  } else span.setAttribute('error.type', '_OTHER');
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** `trace_id` / `span_id` of the active span for log lines, when a sampled trace is being recorded. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!active) return undefined;
  const context = trace.getActiveSpan()?.spanContext();
  if (!context || (context.traceFlags & 1) === 0) return undefined;
  return { trace_id: context.traceId, span_id: context.spanId };
}
