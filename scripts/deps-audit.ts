// `pnpm deps:audit`: the supply-chain gate (runbook/deploy.md, "Supply chain").
//   1. deprecated packages: read from pnpm-lock.yaml (pnpm records the registry's `deprecated` notice
//      of every locked version), so this part needs no network and always answers;
//   2. known vulnerabilities: `pnpm audit`, production dependencies at any severity from moderate up,
//      development ones from high up.
// Exit 0 clean · 1 findings · 3 advisory source unavailable. "Unavailable" is never "clean": `pnpm audit`
// answers 405 from some registry mirrors, and `--ignore-registry-errors` would then exit 0 (PITFALLS),
// so the raw answer is classified here instead.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

export function deprecatedPackages(lockfile = join(ROOT, 'pnpm-lock.yaml')): string[] {
  const lock = parse(readFileSync(lockfile, 'utf8')) as {
    packages?: Record<string, { deprecated?: string }>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(([, entry]) => entry.deprecated)
    .map(([id, entry]) => `${id}: ${entry.deprecated}`);
}

const RANK = { info: 0, low: 1, moderate: 2, high: 3, critical: 4 } as const;
type Severity = keyof typeof RANK;

export type AuditResult =
  | { state: 'clean' }
  | { state: 'vulnerable'; findings: string[] }
  | { state: 'unavailable'; reason: string };

/** Classifies what `pnpm audit --json` printed and its exit status. */
export function classifyAudit(stdout: string, status: number | null, minimum: Severity): AuditResult {
  let report: {
    error?: { code?: string; message?: string };
    advisories?: Record<
      string,
      {
        module_name: string;
        severity: Severity;
        title: string;
        url?: string;
        findings?: { version: string }[];
      }
    >;
  };
  try {
    report = JSON.parse(stdout);
  } catch {
    return { state: 'unavailable', reason: `no JSON answer (exit ${status}): ${stdout.slice(0, 200)}` };
  }
  if (report.error) return { state: 'unavailable', reason: `${report.error.code}: ${report.error.message}` };
  if (!report.advisories) return { state: 'unavailable', reason: `unexpected answer (exit ${status})` };
  const findings = Object.values(report.advisories)
    .filter((advisory) => RANK[advisory.severity] >= RANK[minimum])
    .map(
      (a) =>
        `${a.module_name}@${a.findings?.map((f) => f.version).join(',')}: ${a.severity}: ${a.title} ${a.url ?? ''}`,
    );
  return findings.length ? { state: 'vulnerable', findings } : { state: 'clean' };
}

export function runAudit(scope: '--prod' | '--dev', minimum: Severity): AuditResult {
  const result = spawnSync('pnpm', ['audit', '--json', scope], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return classifyAudit(result.stdout ?? '', result.status, minimum);
}

if (import.meta.main) {
  let exit = 0;
  const deprecated = deprecatedPackages();
  console.log(`deprecated packages: ${deprecated.length ? `FOUND\n  ${deprecated.join('\n  ')}` : 'none'}`);
  if (deprecated.length) exit = 1;
  for (const [scope, minimum] of [
    ['--prod', 'moderate'],
    ['--dev', 'high'],
  ] as const) {
    const audit = runAudit(scope, minimum);
    const label = `vulnerabilities (${scope.slice(2)}, ≥ ${minimum})`;
    if (audit.state === 'clean') console.log(`${label}: none`);
    if (audit.state === 'vulnerable') {
      console.log(`${label}: FOUND\n  ${audit.findings.join('\n  ')}`);
      exit = 1;
    }
    if (audit.state === 'unavailable') {
      console.log(`${label}: UNAVAILABLE (${audit.reason})`);
      if (exit === 0) exit = 3;
    }
  }
  process.exit(exit);
}
