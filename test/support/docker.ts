// The container tests' tools: the engine that scripts/containers.sh runs under .containers/, the docker
// CLI against it, an HTTPS client that trusts the test's own CA, and production-shaped secrets.
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = process.env.CONTAINERS_DIR ?? join(ROOT, '.containers');

export const dockerEnv: NodeJS.ProcessEnv = {
  ...process.env,
  DOCKER_HOST: `unix://${DIR}/docker.sock`,
  DOCKER_CONFIG: join(DIR, 'config'),
};

export type Run = { status: number | null; stdout: string; stderr: string };

export function run(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Run {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env: dockerEnv,
    encoding: 'utf8',
    input: options.input,
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Like run(), without blocking: for steps that overlap (CI images while the app image builds). */
export function runAsync(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: dockerEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs and insists on exit 0; returns stdout. */
export function must(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} → ${result.status}\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`,
    );
  }
  return result.stdout;
}

export const docker = (...args: string[]) => must('docker', args).trim();
export const containersScript = (step: string) =>
  must('bash', ['scripts/containers.sh', step], { timeoutMs: 900_000 });

/** Builds Containerfile unchanged; returns the seconds it took. */
export async function buildImage(tag: string): Promise<number> {
  const started = performance.now();
  const result = await runAsync('docker', [
    'buildx',
    'build',
    '--load',
    '-f',
    'Containerfile',
    '-t',
    tag,
    '--secret',
    'id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt',
    '--build-arg',
    'VERSION=0.1.0-ci',
    '--build-arg',
    'REVISION=ci',
    '.',
  ]);
  if (result.status !== 0) throw new Error(`image build failed:\n${result.stderr.slice(-4000)}`);
  return (performance.now() - started) / 1000;
}

/** The CI stand-in images (scripts/containers.sh ci-images); returns the seconds it took. */
export async function buildCiImages(): Promise<number> {
  const started = performance.now();
  const result = await runAsync('bash', ['scripts/containers.sh', 'ci-images']);
  if (result.status !== 0) throw new Error(`ci-images failed:\n${result.stderr.slice(-4000)}`);
  return (performance.now() - started) / 1000;
}

/** A production-shaped environment: real-looking keys, nothing of the embedded defaults. */
export function productionSecrets() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `ci-${randomBytes(4).toString('hex')}` };
  return {
    POSTGRES_PASSWORD: randomBytes(18).toString('base64url'),
    S3_ACCESS_KEY_ID: `ci${randomBytes(8).toString('hex')}`,
    S3_SECRET_ACCESS_KEY: randomBytes(24).toString('base64url'),
    JWT_SIGNING_KEY: JSON.stringify(jwk),
    SMTP_URL: 'smtp://mail.invalid:25',
  };
}

/** A self-signed certificate for localhost and 127.0.0.1 (EC P-256); the test trusts it as its CA. */
export function selfSignedCert(dir: string) {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  must('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

export type HttpsResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
};

/** One HTTPS request to the edge, trusting `ca`; `body` may be a Buffer or absent. */
export function https(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: Buffer },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export const json = (response: HttpsResponse) => JSON.parse(response.body.toString('utf8'));

/** JSON lines of a container log (pino and the edge's access log both write one object a line). */
export const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    });

export const writeEnvFile = (path: string, values: Record<string, string>) =>
  writeFileSync(
    path,
    `${Object.entries(values)
      .map(([key, value]) => `${key}='${value}'`)
      .join('\n')}\n`,
  );
