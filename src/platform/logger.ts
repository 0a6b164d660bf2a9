import { type DestinationStream, type Logger, pino } from 'pino';
import { activeTraceIds } from '../telemetry/tracing.ts';
import { currentRequest } from './request-context.ts';

export type { Logger };

// Secrets never reach a log line: headers that carry credentials and any field named like one, at the
// depths our log objects use. Access-log lines carry no headers or bodies at all.
const SECRET_FIELDS = [
  'password',
  'current_password',
  'new_password',
  'token',
  'access_token',
  'refresh_token',
  'secret',
  'key',
  'api_key',
  'authorization',
  'cookie',
  'set-cookie',
  'secretAccessKey',
  'signingKey',
];
const member = (field: string) => (/^[A-Za-z_$][\w$]*$/.test(field) ? `.${field}` : `["${field}"]`);
const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [
  member(field).replace(/^\./, ''),
  `*${member(field)}`,
  `*.*${member(field)}`,
]);

const unredacted = new WeakMap<Logger, Logger>();

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const destination = options.destination ?? pino.destination(1);
  const shared = {
    level: options.level,
    base: { service: 'stowage' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    // Ties every line written while a request runs to that request (and its trace, when one is
    // recorded), wherever it is logged from.
    mixin: () => {
      const request = currentRequest();
      if (!request) return {};
      const trace = activeTraceIds();
      return trace ? { request_id: request.requestId, ...trace } : { request_id: request.requestId };
    },
  };
  const logger = pino({ ...shared, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
  unredacted.set(logger, pino(shared, destination));
  return logger;
}

/**
 * The same logger without redaction, for lines built only from fields known to be safe (the access
 * log): redaction walks every path on every line, and was the largest single cost of a request.
 */
export const unredactedLogger = (logger: Logger): Logger => unredacted.get(logger) ?? logger;
