// Starts the production bundle with `pnpm start`'s command line on a free loopback port for one
// benchmark, and stops it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/dev/free-port.ts';
import { multipartFrame } from '../src/dev/multipart-frame.ts';
import { createStorage } from '../src/storage/storage.ts';
import { type Stack, serverEnv } from './cold-start.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Limits high enough that benchmark traffic from one address never hits them (the limiter still runs). */
export const BENCH_LIMITS = {
  RATE_LIMIT_LOGIN: '1000000/1m',
  RATE_LIMIT_REGISTER: '1000000/1h',
  RATE_LIMIT_AUTH_FAILURES: '1000000/1m',
  RATE_LIMIT_ACCOUNT: '1000000/1m',
  RATE_LIMIT_API_KEY_FREE: '1000000/1m burst 1000000',
};

/** `pnpm start`'s arguments after `node` (its V8 flags decide GC cost and memory, so they are measured). */
const productionArgs = () =>
  (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: { start: string };
    }
  ).scripts.start
    .split(' ')
    .filter((word) => word !== 'exec')
    .slice(1);

/**
 * `nodeFlags` replaces `pnpm start`'s V8 flags (the flags benchmark compares them); `root` runs another
 * checkout's build (the compare benchmark).
 */
export async function startApi(
  stack: Stack,
  extra: Record<string, string> = {},
  options: { nodeFlags?: string[]; root?: string } = {},
) {
  const port = await freePort();
  const { nodeFlags, root = ROOT } = options;
  const args = nodeFlags ? [...nodeFlags, productionArgs().at(-1)!] : productionArgs();
  const child = spawn(process.execPath, args, {
    cwd: root,
    // Production logging (one access line per request) into /dev/null: its cost is part of the figures.
    env: serverEnv(stack, port, { LOG_LEVEL: 'info', SERVER_TIMING: 'false', ...BENCH_LIMITS, ...extra }),
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 30_000;
  const ready = () =>
    fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
  while (!(await ready())) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`the API on ${url} was not ready within 30 s (exit code ${child.exitCode})`);
    }
    await sleep(20);
  }
  return { url, pid: child.pid!, stop };
}

/** A registered, signed-in account with one small document. */
export async function benchAccount(url: string, tag: string) {
  const email = `${tag}-${Math.random().toString(36).slice(2)}@bench.test`;
  const password = 'correct horse battery staple';
  const json = { 'content-type': 'application/json' };
  await fetch(`${url}/v1/auth/register`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  const login = await fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const upload = smallUpload(`${tag}.txt`);
  const created = await fetch(`${url}/v1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': upload.contentType },
    body: upload.body,
  });
  if (created.status !== 201) throw new Error(`set-up upload: ${created.status} ${await created.text()}`);
  const { document } = (await created.json()) as { document: { id: string } };
  return { email, password, token, documentId: document.id };
}

/** A 1 KiB text file as a multipart/form-data body. */
export function smallUpload(name: string) {
  const { head, tail, contentType } = multipartFrame(name, 'text/plain');
  const body = Buffer.concat([head, Buffer.alloc(1024, 'x'), tail]);
  return { body, contentType };
}

/** A storage client on this run's s3rver (its fixed keys), for what a benchmark reads or writes itself. */
export const benchStorage = (stack: Stack) =>
  createStorage({
    endpoint: stack.s3Endpoint,
    region: 'us-east-1',
    bucket: stack.bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
    timeoutMs: 600_000,
  });
