import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUNBOOK, spliceEnvTable } from '../scripts/env-table.ts';
import { ConfigError, loadConfig } from '../src/config.ts';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const PRODUCTION_OK = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://api.example.com',
  DATABASE_URL: 'postgres://app:pw@db:5432/stowage',
  S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com',
  S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  S3_SECRET_ACCESS_KEY: 'real-secret',
  JWT_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"a","d":"b"}',
  SMTP_URL: 'smtps://mailer:pw@smtp.example.com:465',
};

describe('config', () => {
  it('has working defaults for development', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      database: { url: undefined, poolMax: 10, statementTimeoutMs: 10_000 },
      s3: { bucket: 'stowage', forcePathStyle: true },
      cors: { origins: [], credentials: false },
      http: { maxJsonBodyBytes: 1_048_576, keepAliveTimeoutMs: 65_000 },
    });
  });

  it('parses and coerces values; empty strings count as unset', () => {
    const config = loadConfig({
      PORT: '8080',
      S3_FORCE_PATH_STYLE: 'false',
      CORS_ORIGINS: 'https://a.example, https://b.example:8443',
      DATABASE_URL: '',
      PUBLIC_URL: 'https://api.example.com/',
    });
    expect(config.port).toBe(8080);
    expect(config.s3.forcePathStyle).toBe(false);
    expect(config.cors.origins).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(config.database.url).toBeUndefined();
    expect(config.publicUrl).toBe('https://api.example.com');
  });

  it('integers are plain decimal: 0x10, 1e3, +5, 1.0 are refused', () => {
    expect(loadConfig({ PORT: '8080', HEADERS_TIMEOUT_MS: ' 5000 ' }).http.headersTimeoutMs).toBe(5000);
    for (const value of ['0x10', '1e3', '+5', '1.0', '-1', 'abc']) {
      expect(problemsOf({ PORT: value }), value).toEqual([expect.stringMatching(/^PORT: /)]);
    }
  });

  it('lists every invalid variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://nope',
      DATABASE_POOL_MAX: '0',
      S3_BUCKET: 'Not_A_Bucket',
      S3_FORCE_PATH_STYLE: 'maybe',
      JWT_VERIFY_KEYS: '{"not":"an array"}',
      CORS_ORIGINS: 'https://ok.example,not-an-origin/path',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'CORS_ORIGINS',
      'DATABASE_POOL_MAX',
      'DATABASE_URL',
      'JWT_VERIFY_KEYS',
      'LOG_LEVEL',
      'PORT',
      'S3_BUCKET',
      'S3_FORCE_PATH_STYLE',
    ]);
  });

  it('the bootstrap admin needs both its email and its password', () => {
    expect(problemsOf({ BOOTSTRAP_ADMIN_EMAIL: 'root@example.com' })).toEqual([
      'BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD go together',
    ]);
  });

  it('refuses CORS `*` with credentials in any environment', () => {
    expect(problemsOf({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toEqual([
      'CORS_ORIGINS: `*` cannot be combined with CORS_CREDENTIALS=true; list the origins',
    ]);
  });

  it('production refuses embedded defaults and missing secrets, all listed together', () => {
    expect(
      problemsOf({ NODE_ENV: 'production' })
        .map((p) => p.split(':')[0])
        .sort(),
    ).toEqual([
      'DATABASE_URL',
      'JWT_SIGNING_KEY',
      'PUBLIC_URL',
      'S3_ACCESS_KEY_ID',
      'S3_ENDPOINT',
      'S3_SECRET_ACCESS_KEY',
      'SMTP_URL',
    ]);
    expect(problemsOf({ ...PRODUCTION_OK, CORS_ORIGINS: '*' })).toEqual([
      'CORS_ORIGINS: `*` is not allowed in production',
    ]);
    expect(problemsOf(PRODUCTION_OK)).toEqual([]);
  });

  it('the process exits 1 with one log line naming every invalid variable', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '-1', S3_ENDPOINT: 'ftp://x' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const line = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(line.level).toBe('fatal');
    expect(line.problems.map((p: string) => p.split(':')[0]).sort()).toEqual([
      'DATABASE_URL',
      'JWT_SIGNING_KEY',
      'PORT',
      'PUBLIC_URL',
      'S3_ACCESS_KEY_ID',
      'S3_ENDPOINT',
      'S3_SECRET_ACCESS_KEY',
      'SMTP_URL',
    ]);
    expect(line.msg).toMatch(/^Invalid configuration:\n {2}- /);
  });

  it('the runbook environment table is the one generated from the schema', () => {
    const committed = readFileSync(RUNBOOK, 'utf8');
    expect(committed, 'run `pnpm docs:env` and commit runbook/RUNBOOK.md').toBe(spliceEnvTable(committed));
    expect(committed).toContain('| `SHUTDOWN_TIMEOUT_MS` | integer | `25000` |');
    // Rates are parsed into objects; the table shows them as an operator types them.
    expect(committed).toContain('| `RATE_LIMIT_API_KEY_FREE` | string | `100/1m burst 10` |');
    expect(committed).not.toContain('[object Object]');
  });
});
