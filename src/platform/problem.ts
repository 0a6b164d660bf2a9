import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { currentRequest } from './request-context.ts';

type ProblemSpec = { status: ContentfulStatusCode; title: string; description: string };

/**
 * Every error code the API can answer with. The code is the stable contract; `type` is
 * `{PUBLIC_URL}/problems/{code}`, a page built from this table.
 */
export const PROBLEMS = {
  bad_request: {
    status: 400,
    title: 'Bad request',
    description: 'The request could not be read: malformed JSON, a malformed header or an unreadable body.',
  },
  unauthenticated: {
    status: 401,
    title: 'Authentication required',
    description:
      'Credentials are missing, malformed, expired or revoked. Send `Authorization: Bearer <token>`.',
  },
  invalid_credentials: {
    status: 401,
    title: 'Invalid credentials',
    description: 'The email and password do not match an account.',
  },
  refresh_token_reused: {
    status: 401,
    title: 'Refresh token reused',
    description: 'A rotated refresh token was presented again; every session of its family has been revoked.',
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    description: 'The credentials are valid but do not permit this operation.',
  },
  account_disabled: {
    status: 403,
    title: 'Account disabled',
    description: 'This account has been disabled.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    description: 'No resource exists at this URL, or it belongs to another account.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    description: 'The resource exists but does not support this method; `Allow` lists those it does.',
  },
  email_taken: {
    status: 409,
    title: 'Email taken',
    description: 'An account with this email already exists.',
  },
  idempotency_in_progress: {
    status: 409,
    title: 'Idempotent request in progress',
    description: 'A request with this `Idempotency-Key` is still running; retry after it completes.',
  },
  export_in_progress: {
    status: 409,
    title: 'Export in progress',
    description: 'This account already has a queued or running export; wait for it or cancel it first.',
  },
  export_not_ready: {
    status: 409,
    title: 'Export not ready',
    description: 'The export has not succeeded (yet); its `status` says where it stands.',
  },
  gone: {
    status: 410,
    title: 'Gone',
    description: 'The resource existed but has expired and its content was removed.',
  },
  precondition_failed: {
    status: 412,
    title: 'Precondition failed',
    description: 'The `If-Match` ETag does not match the current version of the resource.',
  },
  request_timeout: {
    status: 408,
    title: 'Request timeout',
    description: 'The request headers or body did not arrive in time.',
  },
  payload_too_large: {
    status: 413,
    title: 'Payload too large',
    description: 'The request body exceeds the size this endpoint accepts.',
  },
  quota_exceeded: {
    status: 413,
    title: 'Quota exceeded',
    description: 'Storing this document would exceed the account’s storage quota.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    description: 'The request `Content-Type` is not one this endpoint accepts.',
  },
  range_not_satisfiable: {
    status: 416,
    title: 'Range not satisfiable',
    description: 'The requested byte range lies outside the document.',
  },
  validation_failed: {
    status: 422,
    title: 'Validation failed',
    description: 'Some input does not match the schema; `errors[]` names each location, path and reason.',
  },
  idempotency_key_reused: {
    status: 422,
    title: 'Idempotency key reused',
    description: 'This `Idempotency-Key` was already used with a different request.',
  },
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    description: 'A rate limit was reached; retry after the number of seconds in `Retry-After`.',
  },
  headers_too_large: {
    status: 431,
    title: 'Request headers too large',
    description: 'The request headers exceed the size the server accepts.',
  },
  internal_error: {
    status: 500,
    title: 'Internal error',
    description: 'An unexpected error occurred. Quote the `request_id` when reporting it.',
  },
  service_unavailable: {
    status: 503,
    title: 'Service unavailable',
    description: 'A dependency is unavailable; retry after `Retry-After` seconds.',
  },
  degraded_mode: {
    status: 503,
    title: 'Degraded mode',
    description: 'The service runs in degraded mode and refuses heavy work for now; reads keep working.',
  },
  read_only_mode: {
    status: 503,
    title: 'Read-only mode',
    description: 'The service is read-only for now; every write is refused, reads keep working.',
  },
  overloaded: {
    status: 503,
    title: 'Overloaded',
    description: 'This instance is at capacity; retry after `Retry-After` seconds.',
  },
  shutting_down: {
    status: 503,
    title: 'Shutting down',
    description: 'This instance is shutting down; retry, and another instance will answer.',
  },
  timeout: {
    status: 504,
    title: 'Timeout',
    description: 'The request took longer than the server allows and was abandoned.',
  },
} as const satisfies Record<string, ProblemSpec>;

export type ProblemCode = keyof typeof PROBLEMS;
export const PROBLEM_CODES = Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]];

export const fieldErrorSchema = z
  .object({
    location: z.enum(['body', 'query', 'path', 'header', 'cookie']),
    path: z.string().meta({ example: 'name' }),
    message: z.string().meta({ example: 'Required' }),
  })
  .meta({ id: 'FieldError' });

export type FieldError = z.infer<typeof fieldErrorSchema>;

export const problemSchema = z
  .object({
    type: z.url().meta({ example: 'https://api.example.com/problems/validation_failed' }),
    title: z.string().meta({ example: 'Validation failed' }),
    status: z.number().int().meta({ example: 422 }),
    detail: z.string().optional().meta({ example: '1 field is invalid' }),
    instance: z.string().meta({ example: '/v1/documents' }),
    // An open string, not an enum: a strict generated client must not break the day a code is added.
    code: z.string().meta({
      description:
        'Stable, machine-readable error code. Known values are listed in `examples`, each documented at ' +
        '`/problems/{code}` (the `type` URL); more may be added, so treat an unknown code by its HTTP status.',
      examples: PROBLEM_CODES,
    }),
    request_id: z.string().meta({ example: '0193a4c2-7d1e-7c3a-9f1e-2b5d8c0e4a11' }),
    errors: z.array(fieldErrorSchema).optional(),
  })
  .meta({
    id: 'Problem',
    description:
      'RFC 9457 problem details. `type` is the URL of a page describing the `code`: its meaning, typical ' +
      'causes and the fix; `/problems` lists every code.',
  });

export type Problem = z.infer<typeof problemSchema>;

export type ProblemOptions = {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
};

/** An error that maps to one problem code. Throw it anywhere below a route. */
export class AppError extends Error {
  readonly code: ProblemCode;
  readonly detail?: string;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, options: ProblemOptions = {}) {
    super(options.detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  get status(): ContentfulStatusCode {
    return PROBLEMS[this.code].status;
  }
}

const CODE_BY_HTTP_STATUS: Partial<Record<number, ProblemCode>> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
  504: 'timeout',
};

// What a client needs to fix an error a library raised without a useful message. Every 415 raised this
// way is a JSON operation's (uploads answer their own 415).
const DEFAULT_DETAIL: Partial<Record<ProblemCode, string>> = {
  unsupported_media_type: 'This operation takes a JSON body: send it with Content-Type: application/json',
};

// Network failures (Node), postgres.js connection states, and SQLSTATEs of a database that is down,
// starting, shutting down or out of connections: an outage of a dependency, not a bug of ours.
const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

function outageOf(error: unknown): 'service_unavailable' | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      // 57014 is statement_timeout: the database is saturated or locked; the client should come
      // back later (503 + Retry-After), exactly as for a database that is down.
      if (OUTAGE_CODES.has(code) || code.startsWith('08') || code === '57014') return 'service_unavailable';
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Maps any thrown value to an AppError; returns undefined for errors that are our own bugs. */
export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  // Work aborted through a signal whose reason is ours (the handler timeout) surfaces as that reason.
  if (error instanceof Error && error.name === 'AbortError' && error.cause instanceof AppError)
    return error.cause;
  if (error instanceof HTTPException) {
    const code = CODE_BY_HTTP_STATUS[error.status];
    if (code) {
      const detail = DEFAULT_DETAIL[code] ?? detailOf(code, error.message);
      return new AppError(code, { ...(detail ? { detail } : {}), cause: error });
    }
  }
  const outage = outageOf(error);
  if (outage === 'service_unavailable') {
    return new AppError(outage, {
      detail: 'A backing service is unreachable',
      headers: { 'Retry-After': '5' },
      cause: error,
    });
  }
  return undefined;
}

// Library messages are fine for client errors ("Malformed JSON in request body"); never for 5xx.
const detailOf = (code: ProblemCode, message: string) =>
  PROBLEMS[code].status < 500 && message && message !== PROBLEMS[code].title ? message : undefined;

export const problemTypeUrl = (publicUrl: string, code: ProblemCode) => `${publicUrl}/problems/${code}`;

/** Builds the problem+json response. The request id comes from the request context. */
export function problemResponse(c: Context, publicUrl: string, error: AppError): Response {
  const spec = PROBLEMS[error.code];
  const body: Problem = {
    type: problemTypeUrl(publicUrl, error.code),
    title: spec.title,
    status: spec.status,
    ...(error.detail ? { detail: error.detail } : {}),
    instance: c.req.path,
    code: error.code,
    request_id: currentRequest()?.requestId ?? c.get('requestId') ?? '',
    ...(error.errors ? { errors: error.errors } : {}),
  };
  return c.body(JSON.stringify(body), spec.status, {
    ...error.headers,
    'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store',
  });
}
