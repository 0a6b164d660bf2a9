// The curl that /docs (Scalar, in headless Chromium) shows for an upload works as copied: only the token
// and the file name (`@filename`, where a reader puts their own file) are filled in.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'stowage-docs-curl-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

// CI installs Debian's chromium (.ci/run); elsewhere the test runs when it is there.
describe.runIf(existsSync(CHROMIUM) || process.env.CI)('the upload snippet of /docs', () => {
  it('runs as copied and stores the document', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu'],
    });
    let snippet: string | undefined;
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/docs#tag/documents/POST/v1/documents`, { waitUntil: 'networkidle' });
      await page.getByText('Upload a document (streamed to storage)').first().waitFor({ timeout: 20_000 });
      for (let i = 0; i < 50 && !snippet; i++) {
        const texts = await page.locator('pre, code').allTextContents();
        snippet = texts.find((t) => /--request POST/.test(t) && /v1\/documents \\/.test(t));
        if (!snippet) await page.waitForTimeout(200);
      }
    } finally {
      await browser.close();
    }
    expect(snippet).toContain("--form 'file=@filename'");
    const session = await api(server).signUp();
    await writeFile(join(dir, 'report.pdf'), '%PDF-1.7\n');
    const command = snippet!
      .replace(server.config.publicUrl, server.url)
      .replace('YOUR_SECRET_TOKEN', session.accessToken)
      .replace('@filename', '@report.pdf')
      .trimEnd();
    const { stdout } = await promisify(execFile)(
      'bash',
      ['-c', `${command} --silent --write-out '\\n%{http_code}'`],
      {
        cwd: dir,
      },
    );
    const [body, status] = stdout.split('\n');
    expect(status, body).toBe('201');
    expect(JSON.parse(body!).document).toMatchObject({
      name: 'q3-report.pdf',
      metadata: { project: 'atlas' },
    });
  }, 60_000);
});
