import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { PROBLEMS, type ProblemCode, problemSchema } from './problem.ts';

type ResponseConfig = RouteConfig['responses'][string];

const REQUEST_ID_HEADER = {
  'X-Request-ID': {
    description:
      'The client’s `X-Request-ID` when well-formed, else a generated id; also `request_id` in errors.',
    schema: { type: 'string' as const },
  },
};

const problem = (...codes: ProblemCode[]): ResponseConfig => ({
  description: codes.map((code) => `\`${code}\`: ${PROBLEMS[code].description}`).join('\n\n'),
  headers: REQUEST_ID_HEADER,
  content: { 'application/problem+json': { schema: problemSchema } },
});

/** The error answers a route can give, derived from what it declares (body, parameters, security). */
function errorResponses(route: RouteConfig): Record<string, ResponseConfig> {
  const request = route.request ?? {};
  const hasInput = Boolean(
    request.body || request.query || request.params || request.headers || request.cookies,
  );
  const secured = (route.security ?? []).length > 0;
  return {
    ...(request.body ? { 400: problem('bad_request') } : {}),
    ...(secured ? { 401: problem('unauthenticated'), 403: problem('forbidden') } : {}),
    ...(request.params ? { 404: problem('not_found') } : {}),
    ...(request.body ? { 413: problem('payload_too_large'), 415: problem('unsupported_media_type') } : {}),
    ...(hasInput ? { 422: problem('validation_failed') } : {}),
    500: problem('internal_error'),
    503: problem('service_unavailable', 'shutting_down'),
  };
}

/**
 * `createRoute` plus the contract's uniform parts: every response documents `X-Request-ID`, and the
 * problem responses the route can produce are added so no operation's errors go undocumented.
 */
export function defineRoute<R extends RouteConfig>(route: R): R {
  const responses: Record<string, ResponseConfig> = { ...errorResponses(route) };
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] =
      '$ref' in response
        ? response
        : { ...response, headers: { ...REQUEST_ID_HEADER, ...(response.headers ?? {}) } };
  }
  return createRoute({ ...route, responses }) as R;
}

export const PUBLIC_TAGS = [
  { name: 'Problems', description: 'Documentation of every error `code`; each problem `type` links here.' },
];

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
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Stowage API',
      version: options.version,
      description:
        'Documents in S3-compatible storage with per-account quotas. Errors are `application/problem+json` ' +
        '(RFC 9457) carrying a `request_id` equal to the `X-Request-ID` response header.',
    },
    servers: [{ url: options.publicUrl }],
    tags: PUBLIC_TAGS,
  });
}
