// The whole-suite log audit (issue 10): every log line the harnesses captured is scanned, in the global
// teardown, for every secret the tests used. These tests show the scanner finds what it must.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';
import { scanLogsForSecrets } from './support/log-audit-scan.ts';

const dirs: string[] = [];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function auditDir(secrets: [string, string][], logs: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'log-audit-'));
  dirs.push(dir);
  await writeFile(
    join(dir, 'secrets-1.jsonl'),
    secrets.map(([kind, value]) => `${JSON.stringify({ kind, value })}\n`).join(''),
  );
  await writeFile(join(dir, 'logs-1.jsonl'), logs.map((line) => `${line}\n`).join(''));
  return dir;
}

describe('log audit scanner', () => {
  it('finds a remembered secret anywhere in any line, and names the line, not the secret', async () => {
    const dir = await auditDir(
      [
        ['access_token', 'eyJhbGciOiJFZERTQSJ9.payload.signature'],
        ['api_key', `sk_${'a'.repeat(55)}`],
        ['hash', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ],
      [
        '{"msg":"request","status":200}',
        `{"msg":"x","authorization":"Bearer sk_${'a'.repeat(55)}"}`,
        '{"err":{"message":"Failed query\\nparams: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}',
        '{"msg":"password hash $argon2id$v=19$m=19456,t=2,p=1$abc"}',
      ],
    );
    const audit = scanLogsForSecrets(dir);
    expect(audit).toEqual({
      lines: 4,
      secrets: 3,
      leaks: [
        { kind: 'api_key', file: 'logs-1.jsonl', line: 2 },
        { kind: 'hash', file: 'logs-1.jsonl', line: 3 },
        { kind: 'hash', file: 'logs-1.jsonl', line: 4 },
      ],
    });
  });

  it('clean logs: no leaks', async () => {
    const dir = await auditDir([['password', 'correct horse battery staple']], ['{"msg":"request"}']);
    expect(scanLogsForSecrets(dir).leaks).toEqual([]);
  });

  it('the harness registers what the shared helpers handle', async () => {
    const session = await api(server).signUp('audited');
    // The test's own capture is teed to the run's audit files; scanning them now finds nothing.
    expect(server.logs.raw.length).toBeGreaterThan(0);
    expect(session.accessToken.length).toBeGreaterThan(100);
  });
});
