import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Hono } from 'hono';

// Everything the page needs comes from this server: no CDN, no web fonts, no telemetry, no proxy, so
// the reference works offline and its CSP can forbid every other origin.
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stowage API reference</title>
</head>
<body>
<div id="app"></div>
<script src="/docs/scalar.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `Scalar.createApiReference('#app', ${JSON.stringify({
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: 'never',
  hideClientButton: true,
  agent: { disabled: true },
  mcp: { disabled: true },
  documentDownloadType: 'json',
})});
`;

// The package does not export its browser bundle; it sits beside the main entry (dist/).
const STANDALONE = join(
  dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')),
  'browser/standalone.js',
);

type Asset = { raw: Buffer; gzipped: Buffer };

/** The reference is ~4 MB of script: read and compressed on first request, then kept. */
function lazyAsset(load: () => Promise<Buffer>): () => Promise<Asset> {
  let asset: Promise<Asset> | undefined;
  return () => {
    asset ??= load().then(async (raw) => ({ raw, gzipped: await promisify(gzip)(raw) }));
    asset.catch(() => {
      asset = undefined;
    });
    return asset;
  };
}

export function docsRoutes() {
  const app = new Hono();
  const scalar = lazyAsset(() => readFile(STANDALONE));
  const init = lazyAsset(async () => Buffer.from(INIT));

  const script =
    (load: () => Promise<Asset>, maxAge: number) =>
    async (c: { req: { header(n: string): string | undefined } }) => {
      const asset = await load();
      const gzipOk = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
      const body = gzipOk ? asset.gzipped : asset.raw;
      return new Response(new Uint8Array(body), {
        headers: {
          'Content-Type': 'text/javascript; charset=utf-8',
          'Content-Length': String(body.byteLength),
          'Cache-Control': `public, max-age=${maxAge}`,
          Vary: 'Accept-Encoding',
          ...(gzipOk ? { 'Content-Encoding': 'gzip' } : {}),
        },
      });
    };

  app.get('/docs', (c) => {
    c.header('Content-Security-Policy', DOCS_CSP);
    c.header('Cache-Control', 'no-cache');
    return c.html(PAGE);
  });
  app.get('/docs/scalar.js', script(scalar, 86_400));
  app.get('/docs/init.js', script(init, 300));
  return app;
}
