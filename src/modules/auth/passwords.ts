import { hash, type Options, verify } from '@node-rs/argon2';
import { timedHash } from '../../telemetry/password-hash.ts';

// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, parallelism 1. `2` is
// Algorithm.Argon2id, a const enum that verbatimModuleSyntax cannot import.
const OPTIONS: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string): Promise<string> =>
  timedHash('hash', () => hash(password, OPTIONS));

// Verified against when the email is unknown, so that path costs one argon2id verification too and
// answers in the same time as a wrong password.
const DUMMY_HASH = hash('not-a-real-password-but-the-same-cost', OPTIONS);

/** Checks `password` against `stored`, or against a dummy hash at the same cost when there is no user. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  const dummy = stored ?? (await DUMMY_HASH);
  const matches = await timedHash('verify', () => verify(dummy, password)).catch(() => false);
  return stored !== undefined && matches;
}
