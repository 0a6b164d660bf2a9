// Issue 10, "Must show": no log line written during the whole suite carries a password, token, key
// secret, key hash or password hash the tests used. Every log line a harness captures (in-process
// loggers and spawned servers) is teed to one file per test process, every secret the tests handle is
// remembered in another, and the global teardown scans them all (scanLogsForSecrets).
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { MIN_SECRET_LENGTH, type SecretKind } from './log-audit-scan.ts';

let directory: string | null | undefined;

/** The run's audit directory (provided by the global setup), or null outside a vitest run. */
function auditDir(): string | null {
  if (directory !== undefined) return directory;
  try {
    directory = inject('stack').logAuditDir ?? null;
  } catch {
    directory = null;
  }
  if (directory) mkdirSync(directory, { recursive: true });
  return directory;
}

/** Registers secrets the tests used; none may appear in any log line of the run. */
export function rememberSecret(kind: SecretKind, ...values: (string | null | undefined)[]): void {
  const dir = auditDir();
  if (!dir) return;
  const lines = values
    .filter((value): value is string => typeof value === 'string' && value.length >= MIN_SECRET_LENGTH)
    .map((value) => `${JSON.stringify({ kind, value })}\n`);
  if (lines.length) appendFileSync(join(dir, `secrets-${process.pid}.jsonl`), lines.join(''));
}

// Lines are buffered and written in batches: a synchronous write per line slowed the load generators of
// the process-model tests (which share this process with a spawned server's log stream) by half.
const pendingLines: string[] = [];
const BATCH = 500;

function flushLogLines(): void {
  const dir = auditDir();
  if (!dir || pendingLines.length === 0) return;
  appendFileSync(join(dir, `logs-${process.pid}.jsonl`), pendingLines.splice(0).join(''));
}

/** Keeps a copy of a log line a harness captured; flushed in batches and when the test file ends. */
export function teeLogLine(line: string): void {
  pendingLines.push(`${line}\n`);
  if (pendingLines.length >= BATCH) flushLogLines();
}

// Registered while the file is collected (this module is imported then), so it runs at the file's end,
// after the harness's own cleanups (registered later, run first), and the process exit catches the rest.
afterAll(() => flushLogLines());
process.once('exit', flushLogLines);

/** The secrets of one API exchange: credentials sent, tokens and keys received. */
export function rememberExchange(sent: unknown, received: unknown, setCookies: string[] = []): void {
  const field = (value: unknown, name: string) =>
    value && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  rememberSecret('password', text(field(sent, 'password')), text(field(sent, 'current_password')));
  rememberSecret('reset_token', text(field(sent, 'token')));
  rememberSecret('access_token', text(field(received, 'access_token')));
  rememberSecret('api_key', text(field(received, 'key')));
  for (const cookie of setCookies) {
    const match = /^__Host-stowage_refresh=([^;]+)/.exec(cookie);
    if (match) rememberSecret('refresh_token', match[1]);
  }
}

/** Every stored credential hash of a test database, read just before it is dropped. */
export async function rememberDatabaseSecrets(query: (text: string) => Promise<Record<string, unknown>[]>) {
  for (const text of [
    'select password_hash as v from users',
    'select key_hash as v from api_keys',
    'select token_hash as v from refresh_tokens',
    'select token_hash as v from password_reset_tokens',
  ]) {
    try {
      const rows = await query(text);
      rememberSecret('hash', ...rows.map((row) => String(row.v)));
    } catch {
      // An unmigrated database has no such table.
    }
  }
}
