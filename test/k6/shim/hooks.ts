// Module hooks: the k6 built-in modules resolve to the shims beside this file.
const SHIMS: Record<string, string> = {
  k6: 'k6.ts',
  'k6/http': 'http.ts',
  'k6/metrics': 'metrics.ts',
  'k6/execution': 'execution.ts',
};

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next) {
  const shim = SHIMS[specifier];
  if (shim) return { url: new URL(shim, import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
