// `node scripts/runtime-deps.ts OUT`: the node_modules the dist/ bundle still needs at run time, copied
// flat into OUT/node_modules (the container image ships only these, not the 360 MB of production
// dependencies the bundle already contains). Every package the bundle leaves external is found by
// scanning dist/ for bare imports and copied with its dependency closure, so a new `external` in
// scripts/build.ts cannot ship an image that fails at start-up; RUNTIME_PACKAGES narrows a package
// to the files that are actually read.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';

/** Package → the only files it needs (any other external: the whole package and its dependency closure). */
export const RUNTIME_PACKAGES: Record<string, string[]> = {
  // Only the browser bundle is read (src/platform/docs.ts); resolving the package needs its main file.
  '@scalar/api-reference': ['package.json', 'dist/index.js', 'dist/browser/standalone.js'],
};

const ROOT = join(import.meta.dirname, '..');
// What esbuild leaves in the bundle for an external: an `import … from "x"` statement, `import("x")`,
// or a `require.resolve("x")`. A bare `require("x")` there is a bundled library's optional dependency
// inside a try (e.g. @aws-sdk/signature-v4-crt): it is not shipped and not an error.
const BARE =
  /^import\s[^;]*?from\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)|(?:require|\))\.resolve\(\s*"([^"]+)"/gm;

const packageName = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;

/** Every package name dist/ imports or resolves at run time (node: builtins excluded). */
export function bundleImports(dist = join(ROOT, 'dist')): Set<string> {
  const found = new Set<string>();
  const builtins = new Set(builtinModules);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        for (const match of readFileSync(path, 'utf8').matchAll(BARE)) {
          const specifier = match[1] ?? match[2] ?? match[3] ?? '.';
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          if (builtins.has(packageName(specifier))) continue;
          found.add(packageName(specifier));
        }
      }
    }
  };
  walk(dist);
  return found;
}

/** Node's lookup: `name` as seen from the package directory `from`. */
function locate(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

export function copyRuntimeDeps(out: string): string[] {
  const copied = new Map<string, string>(); // name → source directory
  const copy = (name: string, from: string, files?: string[]) => {
    const source = locate(from, name);
    if (!source) throw new Error(`${name} is not installed (needed from ${from})`);
    const seen = copied.get(name);
    if (seen === source) return;
    if (seen)
      throw new Error(
        `${name} is needed in two versions (${seen}, ${source}); the flat copy cannot hold both`,
      );
    copied.set(name, source);
    const target = join(out, 'node_modules', name);
    mkdirSync(target, { recursive: true });
    if (files) {
      for (const file of files) cpSync(join(source, file), join(target, file), { dereference: true });
      return;
    }
    cpSync(source, target, { recursive: true, dereference: true });
    const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) copy(dep, source);
    // Optional dependencies are the other platforms' native builds: only the installed one is copied.
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) {
      if (locate(source, dep)) copy(dep, source);
    }
  };
  for (const name of bundleImports()) copy(name, ROOT, RUNTIME_PACKAGES[name]);
  return [...copied.keys()].sort();
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node scripts/runtime-deps.ts OUT');
  console.error(`runtime node_modules: ${copyRuntimeDeps(out).join(', ')}`);
}
