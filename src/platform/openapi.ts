import { createRoute, type OpenAPIHono, type RouteConfig, type z } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { type Deprecation, deprecated } from './deprecation.ts';
import { PROBLEMS, type ProblemCode, problemSchema } from './problem.ts';
import { isRateLimit } from './rate-limit/rate-limit.middleware.ts';
import { jsonBodyLimit } from './security.ts';

/** Name of the refresh-token cookie (API.md); the cookie security scheme names it. */
export const REFRESH_COOKIE_NAME = '__Host-stowage_refresh';

type ResponseConfig = RouteConfig['responses'][string];

const REQUEST_ID_HEADER = {
  'X-Request-ID': {
    description:
      'The client’s `X-Request-ID` when well-formed, else a generated id; also `request_id` in errors.',
    schema: { type: 'string' as const },
  },
};

const header = (description: string, type: 'string' | 'integer' = 'string') => ({
  description,
  schema: { type },
});

const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': header(
    'IETF structured field: each policy of the route, `"name";q=<limit>;w=<window s>`.',
  ),
  RateLimit: header('IETF structured field: `"name";r=<remaining>;t=<seconds until reset>` per policy.'),
  'X-RateLimit-Limit': header('Limit of the most constraining policy.', 'integer'),
  'X-RateLimit-Remaining': header('Requests left in its window.', 'integer'),
  'X-RateLimit-Reset': header('Seconds until its window resets (never an epoch).', 'integer'),
};

const RETRY_AFTER = { 'Retry-After': header('Seconds to wait before retrying.', 'integer') };

/** A problem response of `codes` (all of one status); routes use it to add headers of their own. */
export const problem = (status: number, codes: ProblemCode[], extraHeaders: object): ResponseConfig => ({
  description: codes.map((code) => `\`${code}\`: ${PROBLEMS[code].description}`).join('\n\n'),
  headers: {
    ...REQUEST_ID_HEADER,
    ...extraHeaders,
    ...(status === 429 || status === 503 ? RETRY_AFTER : {}),
  },
  content: { 'application/problem+json': { schema: problemSchema } },
});

/** `content` of a JSON body or response with `schema`. */
export const jsonContent = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

/** A required JSON request body (zod-openapi validates it and answers 415 to other media types). */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: jsonContent(schema),
});

/** The problem codes a route can answer with, derived from what it declares, plus its own. */
function problemCodes(route: RouteConfig, extra: ProblemCode[]): ProblemCode[] {
  const request = route.request ?? {};
  const hasInput = Boolean(
    request.body || request.query || request.params || request.headers || request.cookies,
  );
  const secured = (route.security ?? []).length > 0;
  const codes: ProblemCode[] = [
    ...(request.body ? (['bad_request', 'payload_too_large', 'unsupported_media_type'] as const) : []),
    ...(secured ? (['unauthenticated', 'forbidden', 'account_disabled'] as const) : []),
    ...(request.params ? (['not_found'] as const) : []),
    ...(hasInput ? (['validation_failed'] as const) : []),
    ...(route.method !== 'get' ? (['read_only_mode'] as const) : []),
    ...extra,
    // Any request can be unreadable (a malformed header): every operation has at least this 4xx.
    'bad_request',
    'internal_error',
    'service_unavailable',
    'shutting_down',
  ];
  return [...new Set(codes)];
}

export type RouteDefinition = RouteConfig & {
  /** Problem codes of this operation beyond those its declaration implies. */
  extraProblems?: ProblemCode[];
  /** Marks the operation deprecated: `deprecated: true` in the document and the RFC 9745/8594 headers. */
  deprecation?: Deprecation;
  /** A body limit below MAX_JSON_BODY_BYTES for this operation (413 `payload_too_large` beyond it). */
  maxBodyBytes?: number;
};

const DEPRECATION_HEADERS = {
  Deprecation: header('RFC 9745: when this operation was deprecated (`@<epoch seconds>`).'),
  Sunset: header('RFC 8594: when it stops working (HTTP-date).'),
  Link: header('`<…>; rel="deprecation"`: migration notes.'),
};

/**
 * `createRoute` plus the contract's uniform parts: every response documents `X-Request-ID`, and the
 * problem responses the route can produce are added so no operation's errors go undocumented.
 */
export function defineRoute<R extends RouteDefinition>({
  extraProblems = [],
  deprecation,
  maxBodyBytes,
  ...route
}: R): Omit<R, 'extraProblems' | 'deprecation' | 'maxBodyBytes'> {
  const responses: Record<string, ResponseConfig> = {};
  const middleware = [route.middleware ?? []].flat();
  const limited = middleware.some(isRateLimit);
  const extraHeaders = {
    ...(limited ? RATE_LIMIT_HEADERS : {}),
    ...(deprecation ? DEPRECATION_HEADERS : {}),
  };
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of problemCodes(route, [
    ...extraProblems,
    ...(limited ? (['rate_limited'] as const) : []),
  ])) {
    byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) responses[status] = problem(status, codes, extraHeaders);
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] =
      '$ref' in response
        ? response
        : {
            ...response,
            headers: { ...REQUEST_ID_HEADER, ...extraHeaders, ...(response.headers ?? {}) },
          };
  }
  // Deprecation headers first (every answer carries them), then the body limit, then the route's own.
  const wrapped = [
    ...(deprecation ? [deprecated(deprecation)] : []),
    ...(maxBodyBytes ? [jsonBodyLimit(maxBodyBytes)] : []),
    ...middleware,
  ];
  const definition = {
    ...route,
    // An explicit empty list says "public" (linters cannot tell an omission from intent).
    security: route.security ?? [],
    responses,
    ...(deprecation ? { deprecated: true } : {}),
    ...(maxBodyBytes
      ? {
          description: [route.description, `The body may be at most ${maxBodyBytes} bytes.`]
            .filter(Boolean)
            .join('\n\n'),
        }
      : {}),
    ...(wrapped.length ? { middleware: wrapped as RouteConfig['middleware'] } : {}),
  };
  return createRoute(definition) as unknown as Omit<R, 'extraProblems' | 'deprecation' | 'maxBodyBytes'>;
}

export const PUBLIC_TAGS = [
  {
    name: 'Auth',
    description: 'Accounts, sessions (access JWT + rotating refresh cookie) and password reset.',
  },
  { name: 'Account', description: 'The signed-in account and its API keys.' },
  {
    name: 'Documents',
    description:
      'Upload (streamed), list, download (ranges, presigned redirects), rename and delete documents.',
  },
  {
    name: 'Exports',
    description:
      'ZIP exports of an account’s documents, built by the background worker: create, follow progress, download, cancel.',
  },
  {
    name: 'Admin',
    description: 'Operations on every account, the audit log and the runtime mode (role `admin`).',
  },
  { name: 'Problems', description: 'Documentation of every error `code`; each problem `type` links here.' },
];

// biome-ignore lint/suspicious/noExplicitAny: the generated document is walked as plain JSON.
type Json = Record<string, any>;

const PROBLEM_JSON = 'application/problem+json';

/**
 * Moves what every operation repeats into `components`: response headers (`X-Request-ID`, the rate-limit
 * set, …) and problem responses, one per distinct set of codes and headers, referenced by `$ref`. Inline,
 * the document was 225 KB; generated clients also get one type per shape instead of dozens.
 */
function componentize(document: Json): Json {
  const headers: Record<string, Json> = {};
  const responses: Record<string, Json> = {};
  const named = new Map<string, string>();
  const headerRef = (name: string, header: Json): Json => {
    const known = headers[name];
    if (known && JSON.stringify(known) !== JSON.stringify(header)) return header; // a variant stays inline
    headers[name] = header;
    return { $ref: `#/components/headers/${name}` };
  };
  const responseRef = (response: Json): Json => {
    const key = JSON.stringify(response);
    let name = named.get(key);
    if (!name) {
      const codes = [...String(response.description).matchAll(/^`(\w+)`/gm)].map((m) => m[1]);
      const base = [
        codes.join('.'),
        ...('RateLimit' in (response.headers ?? {}) ? ['limited'] : []),
        ...('Deprecation' in (response.headers ?? {}) ? ['deprecated'] : []),
      ].join('-');
      name = base;
      for (let i = 2; name in responses; i++) name = `${base}-${i}`;
      named.set(key, name);
      responses[name] = response;
    }
    return { $ref: `#/components/responses/${name}` };
  };
  for (const operations of Object.values(document.paths ?? {}) as Json[]) {
    for (const operation of Object.values(operations) as Json[]) {
      for (const [status, response] of Object.entries(operation.responses ?? {}) as [string, Json][]) {
        if (response.headers) {
          response.headers = Object.fromEntries(
            Object.entries(response.headers as Json).map(([name, header]) => [name, headerRef(name, header)]),
          );
        }
        if (response.content?.[PROBLEM_JSON]) operation.responses[status] = responseRef(response);
      }
    }
  }
  document.components = { ...document.components, headers, responses };
  return document;
}

/** Built once at start-up: zod-openapi regenerating the document per request leaks memory. */
export function buildOpenApiDocument<E extends Env>(
  app: OpenAPIHono<E>,
  options: { publicUrl: string; version: string },
) {
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'Access token from `POST /v1/auth/login` (15 minutes).',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'sk_…',
    description: 'API key from `POST /v1/api-keys`, sent as a bearer token.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'refreshCookie', {
    type: 'apiKey',
    in: 'cookie',
    name: REFRESH_COOKIE_NAME,
    description:
      'The refresh token, set by login and refresh (`HttpOnly; Secure; SameSite=Strict; Path=/`), rotated on every use.',
  });
  const document = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Stowage API',
      version: options.version,
      description:
        'Documents in S3-compatible storage with per-account quotas. Errors are `application/problem+json` ' +
        '(RFC 9457) carrying a `request_id` equal to the `X-Request-ID` response header, and a stable `code`. ' +
        `Every code has a page with its causes and the fix: [the list of problem types](${options.publicUrl}/problems); ` +
        'each problem’s `type` is the URL of its page.',
      contact: { name: 'Stowage API support', url: `${options.publicUrl}/problems` },
      // SPDX's form for a licence that has no SPDX id (zod-openapi types the 3.0 object, without identifier).
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' } as { name: string },
    },
    servers: [{ url: options.publicUrl }],
    tags: PUBLIC_TAGS,
  }) as Json;
  return componentize(document);
}
