// The served /openapi.json passes Redocly's `recommended` and Spectral's `spectral:oas` rulesets with
// no error and no warning, and stays small (reusable components instead of inline repeats).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
let dir: string;
let file: string;
let text: string;

beforeAll(async () => {
  const server = await startTestServer();
  text = await (await fetch(`${server.url}/openapi.json`)).text();
  dir = await mkdtemp(join(tmpdir(), 'stowage-openapi-'));
  file = join(dir, 'openapi.json');
  await writeFile(file, text);
  if (process.env.OPENAPI_DUMP) await writeFile(process.env.OPENAPI_DUMP, text);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs a linter; its exit code is not the verdict (warnings exit 0), the parsed report is. */
async function lint(command: string, args: string[]) {
  try {
    return (await run(command, args, { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 })).stdout;
  } catch (error) {
    return (error as { stdout: string }).stdout;
  }
}

describe('/openapi.json', () => {
  it('is under 120 KB', () => {
    expect(Buffer.byteLength(text)).toBeLessThan(120 * 1024);
  });

  it('Redocly lint (recommended): 0 errors, 0 warnings', async () => {
    const out = await lint(join(ROOT, 'node_modules/.bin/redocly'), [
      'lint',
      file,
      '--config',
      join(ROOT, 'redocly.yaml'),
      '--format',
      'json',
    ]);
    const report = JSON.parse(out) as { problems: { ruleId: string; severity: string; message: string }[] };
    expect(report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([]);
  }, 120_000);

  it('Spectral lint (spectral:oas): 0 errors, 0 warnings', async () => {
    const report = join(dir, 'spectral.json');
    await lint(join(ROOT, 'node_modules/.bin/spectral'), [
      'lint',
      file,
      '--ruleset',
      join(ROOT, '.spectral.yaml'),
      '--format',
      'json',
      '--output',
      report,
    ]);
    const results = JSON.parse(await readFile(report, 'utf8')) as {
      code: string;
      message: string;
      path: string[];
    }[];
    expect(results.map((r) => `${r.code} ${r.path.join('.')}: ${r.message}`)).toEqual([]);
  }, 120_000);
});
