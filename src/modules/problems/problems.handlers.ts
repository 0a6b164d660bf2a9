import type { RouteHandler } from '@hono/zod-openapi';
import { html } from 'hono/html';
import type { AppEnv } from '../../platform/app-env.ts';
import { AppError, PROBLEMS, type ProblemCode } from '../../platform/problem.ts';
import type { getProblemRoute } from './problems.routes.ts';

const isProblemCode = (code: string): code is ProblemCode => Object.hasOwn(PROBLEMS, code);

/** The catalog's descriptions use `backticks` for names; show those as code, escape everything else. */
const withCode = (text: string) =>
  text.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : html`${part}`));

export const getProblem: RouteHandler<typeof getProblemRoute, AppEnv> = (c) => {
  const { code } = c.req.valid('param');
  if (!isProblemCode(code)) throw new AppError('not_found', { detail: `No problem type "${code}"` });
  const problem = PROBLEMS[code];
  c.header('Cache-Control', 'public, max-age=3600');
  return c.html(
    html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${problem.title} (${code})</title></head>
<body>
<h1>${problem.title}</h1>
<p>HTTP status <strong>${problem.status}</strong>, code <code>${code}</code></p>
<p>${withCode(problem.description)}</p>
<p>Every error body is <code>application/problem+json</code> (RFC 9457) and carries a <code>request_id</code>
equal to the <code>X-Request-ID</code> response header: quote it when asking for help.</p>
</body>
</html>
`,
    200,
  );
};
