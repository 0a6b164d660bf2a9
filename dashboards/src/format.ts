// Generated files go through the repository's own formatter (biome formats JSON and YAML too), so
// `pnpm lint` accepts them and the drift test compares like with like.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIOME = fileURLToPath(new URL('../../node_modules/.bin/biome', import.meta.url));

/** `text` as biome formats a file at `path` (relative to the repository root). */
export function biomeFormat(path: string, text: string): string {
  return execFileSync(BIOME, ['format', `--stdin-file-path=${path}`], {
    input: text,
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
}
