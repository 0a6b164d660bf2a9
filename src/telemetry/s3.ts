// The object-store seam: one CLIENT span and one duration sample per S3 API call, from a middleware on
// the client (multipart uploads show every part). Bundled code is instrumented as well as unbundled.
import type { S3Client } from '@aws-sdk/client-s3';
import { s3OperationDuration } from './metrics.ts';
import { failSpan, startSpan } from './tracing.ts';

export function instrumentS3(client: S3Client, bucket: string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const key = (args.input as { Key?: unknown }).Key;
      const span = startSpan(`S3.${operation}`, {
        'rpc.system': 'aws-api',
        'rpc.service': 'S3',
        'rpc.method': operation,
        'aws.s3.bucket': bucket,
        ...(typeof key === 'string' ? { 'aws.s3.key': key } : {}),
      });
      const started = performance.now();
      let outcome = 'ok';
      try {
        return await next(args);
      } catch (error) {
        outcome = 'error';
        failSpan(span, error);
        throw error;
      } finally {
        s3OperationDuration.observe({ operation, outcome }, (performance.now() - started) / 1000);
        span?.end();
      }
    },
    { step: 'initialize', name: 'stowageTelemetry', override: true },
  );
}
