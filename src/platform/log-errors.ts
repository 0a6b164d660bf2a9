/**
 * How an error becomes a log field. pino's standard serializer copies every enumerable property and
 * folds the causes' messages into the message, so a failed query logged the SQL parameters (drizzle's
 * `params` and its message `Failed query: …\nparams: …`), among them emails and password or key hashes.
 * This one keeps what an operator needs (type, message, stack frames, SQLSTATE, constraint, causes)
 * and drops every value a query carried.
 */

/** Fields of drizzle and postgres.js errors that hold the values of a query or of the row it touched. */
const VALUE_FIELDS = new Set(['params', 'parameters', 'args', 'types', 'detail', 'where', 'internal_query']);
const MAX_DEPTH = 5;

type ErrorLike = Error & Record<string, unknown>;

const isErrorLike = (value: unknown): value is ErrorLike =>
  value instanceof Error ||
  (typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string');

/** drizzle's DrizzleQueryError: `query` text plus `params`; its message embeds both. */
const isQueryError = (error: ErrorLike) => typeof error.query === 'string' && 'params' in error;

/** A Postgres server error (postgres.js): its message may quote the offending input at the end. */
const isServerError = (error: ErrorLike) =>
  typeof error.severity === 'string' && typeof error.code === 'string';

function messageOf(error: ErrorLike): string {
  if (isQueryError(error)) return `Failed query: ${String(error.query).slice(0, 2000)}`;
  if (isServerError(error)) return error.message.replace(/: ".*"$/s, ': "[redacted]"');
  return error.message;
}

/** The stack's frames under a safe first line: the original first line repeats the message. */
function stackOf(error: ErrorLike, type: string, message: string): string | undefined {
  if (typeof error.stack !== 'string') return undefined;
  const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line));
  return [`${type}: ${message}`, ...frames].join('\n');
}

export function serializeError(value: unknown, depth = 0): unknown {
  if (!isErrorLike(value)) return value;
  const message = messageOf(value);
  const type = value.constructor?.name ?? value.name;
  const out: Record<string, unknown> = { type, message, stack: stackOf(value, type, message) };
  for (const key of Object.keys(value)) {
    if (key in out || key === 'cause' || VALUE_FIELDS.has(key)) continue;
    const field = value[key];
    if (isErrorLike(field)) {
      if (depth < MAX_DEPTH) out[key] = serializeError(field, depth + 1);
    } else if (key === 'errors' && Array.isArray(field)) {
      out.aggregateErrors = field.slice(0, 10).map((item) => serializeError(item, depth + 1));
    } else if (typeof field !== 'object' || field === null) {
      out[key] = field;
    }
  }
  if (isQueryError(value)) out.query = String(value.query).slice(0, 2000);
  if (value.cause !== undefined && depth < MAX_DEPTH) out.cause = serializeError(value.cause, depth + 1);
  return out;
}
