// The README works as pasted: set-up commands first, no links out of the repository, and its first
// session (register, sign in, upload with curl -F, list) runs against a real server. The curl that
// /docs generates for an upload (Scalar's snippet: an explicit multipart Content-Type header, every part
// filled from the schema's examples, or left empty) works as copied too.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type Json } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
let readme: string;
let server: TestServer;
let dir: string;

beforeAll(async () => {
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'stowage-readme-'));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

/** The JSON values of concatenated output (`curl -s` prints no newline after a body). */
function jsonValues(text: string): Json[] {
  const values: Json[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth++ === 0) start = i;
    } else if (ch === '}' && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
  }
  return values;
}

const blocks = () =>
  [...readme.matchAll(/^```(sh[^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ tag: m[1]!, code: m[2]! }));

describe('README.md', () => {
  it('starts with both set-up commands, says to source the toolchain in every shell, links nothing outside', () => {
    expect(
      blocks()[0]
        ?.code.split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/\s+#.*$/, '')),
    ).toEqual(['source scripts/toolchain.sh', 'pnpm install']);
    expect(readme).toMatch(/in EVERY new shell/);
    expect(readme).not.toMatch(/\]\(\.\.\/|`\.\.\/|\.\.\/shared/);
    expect(readme).toMatch(/\[dev\] database postgres:\/\//);
    expect(readme).toMatch(/pnpm -s dev:reset-limits/);
  });

  it('the first session runs as pasted: register, sign in, upload with curl -F, list', async () => {
    const session = blocks().find((b) => b.tag === 'sh readme:session');
    expect(session).toBeDefined();
    expect(session!.code).toContain('API=http://localhost:3000\n');
    const script = session!.code.replace('API=http://localhost:3000\n', `API=${server.url}\n`);
    const { stdout } = await run('bash', ['-eo', 'pipefail', '-c', script], { cwd: dir });
    const answers = jsonValues(stdout);
    expect(answers).toHaveLength(3);
    expect(answers[0]?.user?.email).toBe('dev@example.com');
    expect(answers[1]?.document).toMatchObject({
      name: 'hello.txt',
      content_type: 'text/plain',
      size_bytes: 'Hello, Stowage\n'.length,
      metadata: { project: 'demo' },
    });
    expect(answers[2]?.data.map((d: Json) => d.name)).toEqual(['hello.txt']);
  });
});

describe('the upload curl of /docs, as copied', () => {
  it('works with the schema examples and with empty optional parts', async () => {
    const session = await api(server).signUp();
    // The snippet's `file=@filename` is where the reader puts their own file's path.
    await writeFile(join(dir, 'report.pdf'), '%PDF-1.7\n');
    const snippet = (parts: string[]) => [
      `${server.url}/v1/documents`,
      '--request',
      'POST',
      '--header',
      'Content-Type: multipart/form-data',
      '--header',
      `Authorization: Bearer ${session.accessToken}`,
      ...parts.flatMap((part) => ['--form', part]),
      '--silent',
      '--write-out',
      '\n%{http_code}',
    ];
    for (const parts of [
      ['file=@report.pdf', 'name=q3-report.pdf', 'metadata={"project":"atlas"};type=application/json'],
      ['file=@report.pdf', 'name=', 'metadata='],
    ]) {
      const { stdout } = await run('curl', snippet(parts), { cwd: dir });
      const [body, status] = stdout.split('\n');
      expect(status, body).toBe('201');
      expect(JSON.parse(body!).document.name).toBe(parts[1] === 'name=' ? 'report.pdf' : 'q3-report.pdf');
    }
  });
});
