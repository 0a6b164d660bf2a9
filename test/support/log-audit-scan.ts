// The scan half of the whole-suite log audit (log-audit.ts records; this reads). No vitest imports:
// the global teardown, which runs outside any test file, uses it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Shorter values would match by accident (and are not secrets this suite hands out). */
export const MIN_SECRET_LENGTH = 8;

export type SecretKind = 'password' | 'access_token' | 'refresh_token' | 'api_key' | 'reset_token' | 'hash';

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
