import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { AppEnv } from '../../platform/app-env.ts';
import { AppError, PROBLEMS, type ProblemCode, problemTypeUrl } from '../../platform/problem.ts';
import { PROBLEM_GUIDES } from './problem-guides.ts';
import type { getProblemRoute, listProblemsRoute } from './problems.routes.ts';

// Static pages with no script: the CSP allows only their own inline style, like /docs allows only its
// own assets.
const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}';

const isProblemCode = (code: string): code is ProblemCode => Object.hasOwn(PROBLEMS, code);
const codes = () => Object.keys(PROBLEMS) as ProblemCode[];

/** The catalog's texts use `backticks` for names; show those as code, escape everything else. */
const withCode = (text: string) =>
  text.split('`').map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : html`${part}`));

/** JSON when the client asks for it over HTML (a browser's Accept names text/html). */
const wantsJson = (c: Context) => {
  const accept = c.req.header('accept') ?? '';
  return /application\/(problem\+)?json/.test(accept) && !/text\/html/.test(accept);
};

function page(c: Context, title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  c.header('Content-Security-Policy', PAGE_CSP);
  c.header('Cache-Control', 'public, max-age=3600');
  c.header('Vary', 'Accept');
  return c.html(
    html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><style>${STYLE}</style></head>
<body>
${body}
<p>Every error body is <code>application/problem+json</code> (RFC 9457) with a stable <code>code</code> and a
<code>request_id</code> equal to the <code>X-Request-ID</code> response header: quote it when asking for help.
<a href="/problems">All problem types</a> · <a href="/docs">API reference</a></p>
</body>
</html>
`,
    200,
  );
}

export const listProblems: RouteHandler<typeof listProblemsRoute, AppEnv> = (c) => {
  const { publicUrl } = c.get('services').config;
  if (wantsJson(c)) {
    c.header('Vary', 'Accept');
    const data = codes().map((code) => ({
      code,
      status: PROBLEMS[code].status as number,
      title: PROBLEMS[code].title as string,
      url: problemTypeUrl(publicUrl, code),
    }));
    return c.json({ data }, 200);
  }
  return page(
    c,
    'Problem types',
    html`<h1>Problem types</h1>
<p>Every <code>code</code> the API can answer with. A problem’s <code>type</code> is the URL of its page.</p>
<table>
<thead><tr><th>status</th><th>code</th><th>meaning</th></tr></thead>
<tbody>
${codes().map(
  (code) =>
    html`<tr><td>${PROBLEMS[code].status}</td><td><a href="/problems/${code}"><code>${code}</code></a></td><td>${withCode(PROBLEMS[code].description)}</td></tr>
`,
)}</tbody>
</table>`,
  ) as never;
};

export const getProblem: RouteHandler<typeof getProblemRoute, AppEnv> = (c) => {
  const { code } = c.req.valid('param');
  if (!isProblemCode(code)) {
    throw new AppError('not_found', {
      detail: `No problem type "${code}"; /problems lists every code`,
    });
  }
  const problem = PROBLEMS[code];
  const guide = PROBLEM_GUIDES[code] ?? { causes: [], fix: '' };
  if (wantsJson(c)) {
    c.header('Vary', 'Accept');
    return c.json(
      {
        code,
        status: problem.status as number,
        title: problem.title as string,
        url: problemTypeUrl(c.get('services').config.publicUrl, code),
        meaning: problem.description as string,
        causes: guide.causes,
        fix: guide.fix,
      },
      200,
    );
  }
  return page(
    c,
    `${problem.title} (${code})`,
    html`<h1>${problem.title}</h1>
<p>HTTP status <strong>${problem.status}</strong>, code <code>${code}</code></p>
<h2>Meaning</h2>
<p>${withCode(problem.description)}</p>
<h2>Typical causes</h2>
<ul>
${guide.causes.map((cause) => html`<li>${withCode(cause)}</li>\n`)}</ul>
<h2>How to fix it</h2>
<p>${withCode(guide.fix)}</p>`,
  ) as never;
};
