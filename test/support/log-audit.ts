// Issue 10, "Must show": no log line written during the whole suite carries a password, token, key
// secret, key hash or password hash the tests used. Every log line a harness captures (in-process
// loggers and spawned servers) is teed to one file per test process, every secret the tests handle is
// remembered in another, and the global teardown scans them all (scanLogsForSecrets).
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/** Shorter values would match by accident (and are not secrets this suite hands out). */
const MIN_SECRET_LENGTH = 8;

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

export type SecretKind = 'password' | 'access_token' | 'refresh_token' | 'api_key' | 'reset_token' | 'hash';

/** Registers secrets the tests used; none may appear in any log line of the run. */
export function rememberSecret(kind: SecretKind, ...values: (string | null | undefined)[]): void {
  const dir = auditDir();
  if (!dir) return;
  const lines = values
    .filter((value): value is string => typeof value === 'string' && value.length >= MIN_SECRET_LENGTH)
    .map((value) => `${JSON.stringify({ kind, value })}\n`);
  if (lines.length) appendFileSync(join(dir, `secrets-${process.pid}.jsonl`), lines.join(''));
}

/** Keeps a copy of a log line a harness captured (synchronous: a crashing test loses nothing). */
export function teeLogLine(line: string): void {
  const dir = auditDir();
  if (dir) appendFileSync(join(dir, `logs-${process.pid}.jsonl`), `${line}\n`);
}

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

export type Leak = { kind: SecretKind; file: string; line: number };

/**
 * Scans every log file of `dir` for every remembered secret; a leak names where, never the secret.
 * Secrets are indexed by their first characters, so the scan is one pass over the logs however many
 * secrets the run remembered.
 */
export function scanLogsForSecrets(dir: string): { lines: number; secrets: number; leaks: Leak[] } {
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return { lines: 0, secrets: 0, leaks: [] };
  }
  const byPrefix = new Map<string, Map<string, SecretKind>>();
  let secrets = 0;
  for (const file of files.filter((name) => name.startsWith('secrets-'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
      const { kind, value } = JSON.parse(line) as { kind: SecretKind; value: string };
      const prefix = value.slice(0, MIN_SECRET_LENGTH);
      const group = byPrefix.get(prefix) ?? new Map<string, SecretKind>();
      if (!group.has(value)) secrets++;
      group.set(value, kind);
      byPrefix.set(prefix, group);
    }
  }
  // A password hash is recognisable even if no test read it back.
  const argon = byPrefix.get('$argon2id$'.slice(0, MIN_SECRET_LENGTH)) ?? new Map<string, SecretKind>();
  argon.set('$argon2id$', 'hash');
  byPrefix.set('$argon2id$'.slice(0, MIN_SECRET_LENGTH), argon);
  const leaks: Leak[] = [];
  let lines = 0;
  for (const file of files.filter((name) => name.startsWith('logs-'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
    for (let i = 0; i + MIN_SECRET_LENGTH <= text.length; i++) {
      const group = byPrefix.get(text.slice(i, i + MIN_SECRET_LENGTH));
      if (!group) continue;
      for (const [value, kind] of group) {
        if (text.startsWith(value, i)) {
          leaks.push({ kind, file, line: text.slice(0, i).split('\n').length });
        }
      }
    }
  }
  return { lines, secrets, leaks };
}
