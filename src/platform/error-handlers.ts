import type { Hook } from '@hono/zod-openapi';
import type { Context, Env, ErrorHandler, Hono, NotFoundHandler } from 'hono';
import { routePath } from 'hono/route';
import { TrieRouter } from 'hono/router/trie-router';
import { z } from 'zod';
import type { AppEnv } from './app-env.ts';
import type { Logger } from './logger.ts';
import { AppError, type FieldError, PROBLEMS, problemResponse, toAppError } from './problem.ts';
import { findUnstorableText, UNSTORABLE_MESSAGE } from './storable-text.ts';

// zod's own text for a missing field ("Invalid input: expected string, received undefined") reads as a type
// error; clients expect "Required". Process-wide on purpose: every schema of the API answers the same way.
z.config({
  customError: (issue) =>
    issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined,
});

const LOCATION_BY_TARGET: Record<string, FieldError['location']> = {
  json: 'body',
  form: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
  cookie: 'cookie',
};

/**
 * zod-openapi's default answers 400 with a raw ZodError; the contract is a 422 problem with `errors[]`.
 * Valid input is also checked for text Postgres cannot store (NUL, unpaired surrogates), in every
 * string and object key of every target, so no route can forget it.
 */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  const location = LOCATION_BY_TARGET[result.target] ?? 'body';
  if (result.success) {
    const path = findUnstorableText(result.data);
    if (path === undefined) return;
    throw new AppError('validation_failed', {
      detail: '1 field is invalid',
      errors: [{ location, path, message: UNSTORABLE_MESSAGE }],
    });
  }
  const errors = result.error.issues.map((issue) => ({
    location,
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const detail = `${errors.length} ${errors.length === 1 ? 'field is' : 'fields are'} invalid`;
  throw new AppError('validation_failed', { detail, errors });
};

export const errorHandler =
  (publicUrl: string, logger: Logger): ErrorHandler<AppEnv> =>
  (error, c) => {
    // The client went away while its body was being read (Node's 'aborted', an ECONNRESET): that is no
    // dependency failure, and nobody is left to read the answer. Counted and logged as a client error.
    if (c.env?.incoming?.destroyed && (error as { message?: string }).message === 'aborted') {
      return problemResponse(c, publicUrl, new AppError('bad_request', { detail: 'The client went away' }));
    }
    const known = toAppError(error);
    if (known && known !== error && PROBLEMS[known.code].status >= 500) {
      // A dependency failed (not our bug, but operators need the cause): logged without the client's details.
      logger.error({ err: error, code: known.code, route: routePath(c, -1) }, 'dependency failure');
    }
    if (known) return problemResponse(c, publicUrl, known);
    // Anything else is our bug, a ZodError while building a response included: log it whole, reveal nothing.
    logger.error({ err: error, method: c.req.method, route: routePath(c, -1) }, 'unhandled error');
    return problemResponse(c, publicUrl, new AppError('internal_error'));
  };

/**
 * Hono answers an unsupported method with 404. The contract wants 405 and `Allow` when the path exists
 * under another method; the lookup table is built from the app's own routes on first use.
 */
export function notFoundHandler<E extends Env>(app: Hono<E>, publicUrl: string): NotFoundHandler<E> {
  let router: TrieRouter<string> | undefined;
  let methods: string[] = [];
  const build = () => {
    const table = new TrieRouter<string>();
    const seen = new Set<string>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue;
      table.add(route.method, route.path, route.method);
      seen.add(route.method);
    }
    methods = [...seen];
    return table;
  };
  return (c: Context) => {
    router ??= build();
    const allowed = methods.filter((method) => (router?.match(method, c.req.path)[0].length ?? 0) > 0);
    if (allowed.length === 0) {
      const detail = `No operation at ${c.req.method} ${c.req.path}; every operation is listed at /docs`;
      return problemResponse(c, publicUrl, new AppError('not_found', { detail }));
    }
    if (allowed.includes('GET')) allowed.push('HEAD');
    const allow = [...new Set(allowed)].sort().join(', ');
    return problemResponse(
      c,
      publicUrl,
      new AppError('method_not_allowed', {
        detail: `${c.req.method} is not supported here; use ${allow}`,
        headers: { Allow: allow },
      }),
    );
  };
}
