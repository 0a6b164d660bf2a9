import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCS_CSP } from '../src/platform/docs.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});

describe('/docs without a browser', () => {
  it('serves a page whose every asset is same-origin and served by the API', async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=UTF-8');
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    const assets = [...html.matchAll(/<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['/docs/scalar.js', '/docs/init.js']);
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of assets) {
      const response = await fetch(`${server.url}${asset}`, { headers: { 'accept-encoding': 'identity' } });
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    }
  });

  it('the init script points at our own document with telemetry and web fonts off', async () => {
    const init = await (await fetch(`${server.url}/docs/init.js`)).text();
    expect(init).toContain('"url":"/openapi.json"');
    expect(init).toContain('"telemetry":false');
    expect(init).toContain('"withDefaultFonts":false');
  });

  it('serves the 4 MB bundle gzipped to clients that accept it', async () => {
    const response = await fetch(`${server.url}/docs/scalar.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('vary')).toBe('Accept-Encoding, Origin');
    const plain = await (
      await fetch(`${server.url}/docs/scalar.js`, { headers: { 'accept-encoding': 'identity' } })
    ).arrayBuffer();
    expect(plain.byteLength).toBeGreaterThan(1_000_000);
    // fetch decodes gzip itself; compare against the identity body to prove both carry the same script.
    expect((await response.arrayBuffer()).byteLength).toBe(plain.byteLength);
    expect(gunzipSync(Buffer.from(await compressedBody(`${server.url}/docs/scalar.js`))).byteLength).toBe(
      plain.byteLength,
    );
  });
});

/** The raw gzip bytes, undecoded (node:http does not decompress). */
async function compressedBody(url: string): Promise<Uint8Array> {
  const { get } = await import('node:http');
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

// CI installs Debian's chromium (.ci/run); elsewhere the test runs when it is there.
describe.runIf(existsSync(CHROMIUM) || process.env.CI)('/docs in headless Chromium', () => {
  it('renders the reference with no request leaving the host and no CSP violation', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const context = await browser.newContext();
      const requested: string[] = [];
      context.on('request', (request) => requested.push(request.url()));
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));

      await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle' });
      await page.getByText('Create an account').first().waitFor({ timeout: 20_000 });
      await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/stowage-docs.png` });

      const origin = new URL(server.url).origin;
      const foreign = requested.filter(
        (url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin,
      );
      expect(foreign).toEqual([]);
      expect(requested).toContain(`${origin}/openapi.json`);
      expect(problems.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
      expect(await page.title()).toBe('Stowage API reference');
    } finally {
      await browser.close();
    }
  }, 60_000);
});
