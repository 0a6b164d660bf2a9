// Shared readers for the ops tests: the YAML under ops/, the dashboards as Grafana loads them, and the
// real promtool (Debian's `prometheus` package, installed by .ci/run).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const path = (relative: string) => `${ROOT}${relative}`;
/** YAML as Compose and the Go services read it (merge keys `<<:` applied). */
export const readYaml = <T = any>(relative: string): T =>
  parse(readFileSync(path(relative), 'utf8'), { merge: true }) as T;

export function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: ROOT });
  if (run.error) throw run.error;
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

export const RULE_FILES = readdirSync(path('ops/prometheus/rules'))
  .filter((f) => f.endsWith('.rules.yml'))
  .map((f) => `ops/prometheus/rules/${f}`);
export const RULE_TEST_FILES = readdirSync(path('ops/prometheus/tests'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => `ops/prometheus/tests/${f}`);

type Rule = {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
export const rules = (): Rule[] =>
  RULE_FILES.flatMap((f) => readYaml<{ groups: { rules: Rule[] }[] }>(f).groups.flatMap((g) => g.rules));
export const alertRules = () => rules().filter((r) => r.alert);

export const DASHBOARD_FILES = readdirSync(path('dashboards')).filter((f) => f.endsWith('.json'));
export const dashboardJson = (file: string) => JSON.parse(readFileSync(path(`dashboards/${file}`), 'utf8'));

export type Target = {
  dashboard: string;
  panel: string;
  datasource: { type: string; uid: string };
  query: string;
};

/** Every query of every panel of the committed dashboards, with the datasource it names. */
export function dashboardTargets(): Target[] {
  return DASHBOARD_FILES.flatMap((file) => {
    const json = dashboardJson(file);
    return (json.panels as any[]).flatMap((panel) =>
      (panel.targets ?? []).map((t: any) => ({
        dashboard: json.title as string,
        panel: panel.title as string,
        datasource: t.datasource ?? panel.datasource,
        query: (t.expr ?? t.query) as string,
      })),
    );
  });
}

/**
 * A query as Grafana sends it: dashboard variables replaced by a value of their kind. The ops tests
 * parse and run what reaches the datasource, not the template.
 */
export function interpolate(query: string): string {
  return query
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__auto', '1m')
    .replaceAll('$request_id', 'req-123');
}
