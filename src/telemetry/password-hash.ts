// argon2id is the heaviest CPU work of a request (tens of ms): its own span and duration histogram.
import { passwordHashDuration } from './metrics.ts';
import { inSpan, SpanKind } from './tracing.ts';

export function timedHash<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  return inSpan(
    `argon2 ${operation}`,
    { 'stowage.password_hash.operation': operation },
    () => work(),
    SpanKind.INTERNAL,
  ).finally(() => passwordHashDuration.observe({ operation }, (performance.now() - started) / 1000));
}
