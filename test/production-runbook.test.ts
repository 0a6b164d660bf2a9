// runbook/production.md's "Run it in production mode on one machine", executed as written: its shell
// blocks run in order in one bash session (only the operator's values are the test's own), then the
// serve command is started exactly as documented and sent SIGTERM during an upload.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../src/dev/free-port.ts';
import { PASSWORD, uniqueEmail } from './support/api.ts';
import { lockDist } from './support/dist-lock.ts';
import { stack, type TestServer, withDatabase } from './support/harness.ts';
import { multipartFrame, streamingUpload } from './support/uploads.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNBOOK = join(ROOT, 'runbook/production.md');
const SECTION = '## Run it in production mode on one machine';

type Block = { tag: string; code: string };

/** The fenced blocks tagged `sh runbook…` of the section, in order. */
function runbookBlocks(markdown: string): Block[] {
  const start = markdown.indexOf(SECTION);
  if (start === -1) throw new Error(`runbook/production.md lacks "${SECTION}"`);
  const rest = markdown.slice(start + SECTION.length);
  const end = rest.search(/^## /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh (runbook(?::\w+)?)\n([\s\S]*?)^```$/gm)].map((m) => ({
    tag: m[1]!,
    code: m[2]!,
  }));
}

let home: string;
let env: Record<string, string>;
let serveArgv: string[];
let port: number;
let releaseDist: () => Promise<void>;
const database = { name: `rb_${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('hex') };
const children: ChildProcess[] = [];

const admin = () => postgres(stack().adminUrl, { max: 1, onnotice: () => {} });

beforeAll(async () => {
  releaseDist = await lockDist();
  home = await mkdtemp(join(tmpdir(), 'stowage-runbook-'));
  // The operator's Postgres: a role that owns its database, nothing more (no superuser).
  const sql = admin();
  await sql.unsafe(`create role ${database.name} login password '${database.password}'`);
  await sql.unsafe(`create database ${database.name} owner ${database.name}`);
  await sql.end();
  const url = new URL(withDatabase(stack().adminUrl, database.name));
  url.username = database.name;
  url.password = database.password;

  const blocks = runbookBlocks(await readFile(RUNBOOK, 'utf8'));
  expect(blocks.map((b) => b.tag)).toEqual([
    'runbook:values',
    'runbook',
    'runbook',
    'runbook',
    'runbook',
    'runbook:serve',
  ]);
  // The shared decision: production runs exactly this, in exec form.
  expect(blocks.at(-1)!.code.trim()).toBe('node --max-semi-space-size=8 dist/main.js');
  serveArgv = blocks.at(-1)!.code.trim().split(/\s+/);

  port = await freePort();
  const values = [
    `export DATABASE_URL='${url}'`,
    // Nothing listens there: a dead relay, which start-up must report.
    `export SMTP_URL='smtp://127.0.0.1:${await freePort()}'`,
    `export PUBLIC_URL='http://127.0.0.1:${port}'`,
    `export HOST=127.0.0.1 PORT=${port}`,
    `export STOWAGE_HOME='${home}'`,
    `export LOCAL_S3_PORT=${await freePort()}`,
  ].join('\n');
  const envFile = join(home, 'env');
  const script = [
    'set -eo pipefail',
    values,
    ...blocks.filter((b) => b.tag === 'runbook').map((b) => b.code),
    `env -0 > '${envFile}'`,
  ].join('\n');
  const bash = spawn('bash', ['-c', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  bash.stdout.on('data', (chunk) => {
    output += chunk;
  });
  bash.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const [code] = await once(bash, 'exit');
  expect(code, output).toBe(0);
  env = Object.fromEntries(
    (await readFile(envFile, 'utf8'))
      .split('\0')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}, 400_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  const s3Pid = Number(await readFile(join(home, 's3.pid'), 'utf8').catch(() => ''));
  if (s3Pid) process.kill(s3Pid, 'SIGTERM');
  await sleep(200);
  await rm(home, { recursive: true, force: true });
  const sql = admin();
  await sql.unsafe(`drop database if exists ${database.name} with (force)`);
  await sql.unsafe(`drop role if exists ${database.name}`);
  await sql.end();
  await releaseDist?.();
});

/** Starts `argv` with the runbook's environment; resolves once it logged `ready`. */
async function start(argv: string[]) {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line));
      } catch {
        return; // pnpm's own banner lines
      }
      if (logs.at(-1)!.msg === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited early (${code}): ${JSON.stringify(logs)}`)));
  });
  return { child, logs, exited };
}

const base = () => `http://127.0.0.1:${port}`;

async function signIn() {
  const email = uniqueEmail('runbook');
  const json = { 'content-type': 'application/json' };
  const body = JSON.stringify({ email, password: PASSWORD });
  expect((await fetch(`${base()}/v1/auth/register`, { method: 'POST', headers: json, body })).status).toBe(
    201,
  );
  const login = await fetch(`${base()}/v1/auth/login`, { method: 'POST', headers: json, body });
  expect(login.status).toBe(200);
  return ((await login.json()) as { access_token: string }).access_token;
}

describe('runbook/production.md, run it in production mode on one machine', () => {
  it('serves in production mode; SIGTERM to the documented command drains an upload and exits 0', async () => {
    expect(env.NODE_ENV).toBe('production');
    const api = await start(serveArgv);
    onTestFinished(() => void (api.child.exitCode === null && api.child.kill('SIGKILL')));
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'pass' });

    // The dead relay is reported at start-up, not when the first reset mail fails.
    for (let i = 0; i < 50 && !api.logs.some((l) => /SMTP relay unreachable/.test(String(l.msg))); i++)
      await sleep(100);
    expect(api.logs.find((l) => /SMTP relay unreachable/.test(String(l.msg)))?.level).toBe('error');

    const token = await signIn();
    const frame = multipartFrame('in-flight.pdf', 'application/pdf');
    const bytes = randomBytes(256 * 1024);
    const upload = streamingUpload({ url: base() } as TestServer, token, frame);
    upload.req.write(frame.head);
    upload.req.write(bytes.subarray(0, 1024));
    await sleep(300);

    api.child.kill('SIGTERM');
    await sleep(300);
    expect(api.child.exitCode).toBeNull(); // still draining the upload
    upload.req.end(Buffer.concat([bytes.subarray(1024), frame.tail]));
    const answer = await upload.response;
    expect(answer.status, answer.body).toBe(201);
    expect(JSON.parse(answer.body).document.size_bytes).toBe(bytes.length);
    expect(await api.exited).toBe(0);
    expect(api.logs.some((l) => /shutdown started/.test(String(l.msg)))).toBe(true);
  });

  it('`pnpm start` forwards SIGTERM to node: it drains and both exit 0, nothing left serving', async () => {
    const api = await start(['pnpm', 'start']);
    onTestFinished(() => void (api.child.exitCode === null && api.child.kill('SIGKILL')));
    expect((await fetch(`${base()}/readyz`)).status).toBe(200);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(api.logs.some((l) => /shutdown started/.test(String(l.msg)))).toBe(true);
    await expect(fetch(`${base()}/livez`)).rejects.toThrow();
  });
});
