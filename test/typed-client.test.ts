// A typed client generated from the served /openapi.json (openapi-typescript + openapi-fetch) type-checks
// with a small integrator's script, and that script runs register → login → upload → list → download →
// delete against a real server.
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'test/typed-client');
const run = promisify(execFile);
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const spec = join(DIR, 'openapi.tmp.json');
  await writeFile(spec, await (await fetch(`${server.url}/openapi.json`)).text());
  await run(process.execPath, ['--import', './ts5-hook.ts', 'generate.ts', spec, 'schema.ts'], { cwd: DIR });
  await rm(spec);
}, 60_000);

afterAll(() => rm(join(DIR, 'schema.ts'), { force: true }));

describe('a client generated with openapi-typescript + openapi-fetch', () => {
  it('types the file part as a Blob and the error code as an open string', async () => {
    const { readFile } = await import('node:fs/promises');
    const schema = await readFile(join(DIR, 'schema.ts'), 'utf8');
    expect(schema).toMatch(/file: Blob;/);
    expect(schema).toMatch(/code: string;/);
  });

  it('type-checks (tsc, strict) with the client script', async () => {
    const result = await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: DIR }).then(
      () => ({ code: 0, out: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, out: error.stdout }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  }, 60_000);

  it('runs register → login → upload → list → download → delete against a real server', async () => {
    const { stdout } = await run(process.execPath, ['client.ts'], {
      cwd: DIR,
      env: { ...process.env, BASE_URL: server.url },
    });
    const seen = JSON.parse(stdout);
    expect(seen).toEqual({
      registered: 201,
      uploaded: 201,
      id: expect.stringMatching(/^doc_/),
      names: ['typed.pdf'],
      content: '%PDF-1.7 typed client\n',
      deleted: 204,
      missing: 404,
      code: 'not_found',
    });
  }, 60_000);
});
