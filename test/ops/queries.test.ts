// Every query of every dashboard, checked by the parser of the system that runs it: PromQL by
// Prometheus itself (promtool over a rule file that records each expression), LogQL and TraceQL by
// Grafana's own grammars; and every datasource a panel names is provisioned with that uid.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as traceqlParser } from '@grafana/lezer-traceql';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dashboardTargets, interpolate, promtool, readYaml } from './support.ts';

type Tree = ReturnType<typeof logqlParser.parse>;

const targets = dashboardTargets();
const byType = (type: string) => targets.filter((t) => t.datasource.type === type);

/** Positions of the error nodes lezer inserts where the grammar does not match. */
function errors(tree: Tree): number[] {
  const found: number[] = [];
  tree.iterate({ enter: (node) => void (node.type.isError && found.push(node.from)) });
  return found;
}

describe('dashboard queries', () => {
  it('cover every datasource kind', () => {
    expect(byType('prometheus').length).toBeGreaterThan(40);
    expect(byType('loki').length).toBeGreaterThanOrEqual(5);
    expect(byType('tempo').length).toBeGreaterThanOrEqual(3);
  });

  it('name only datasource uids that the provisioning defines, with the right type', () => {
    const provisioned = readYaml<{ datasources: { uid: string; type: string }[] }>(
      'ops/grafana/provisioning/datasources/datasources.yaml',
    ).datasources.map((d) => `${d.type}/${d.uid}`);
    const named = new Set(targets.map((t) => `${t.datasource.type}/${t.datasource.uid}`));
    expect([...named].sort()).toEqual(provisioned.sort());
  });

  it('PromQL: every expression passes the Prometheus parser (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
    const file = join(dir, 'dashboards.rules.yml');
    const exprs = byType('prometheus').map((t, i) => ({
      record: `dashboard:query:${i}`,
      expr: interpolate(t.query),
    }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules: exprs }] }));
    const { code, output } = promtool('check', 'rules', file);
    expect(output).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(code).toBe(0);
  });

  it('PromQL: the check rejects a broken expression (it can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
    const file = join(dir, 'broken.rules.yml');
    writeFileSync(
      file,
      stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (le (rate(x[5m]))' }] }] }),
    );
    expect(promtool('check', 'rules', file).code).not.toBe(0);
  });

  it.each(byType('loki').map((t) => [`${t.dashboard} / ${t.panel}`, t.query] as const))(
    'LogQL parses without error nodes: %s',
    (_, query) => {
      expect(errors(logqlParser.parse(interpolate(query)))).toEqual([]);
    },
  );

  it.each(byType('tempo').map((t) => [`${t.dashboard} / ${t.panel}`, t.query] as const))(
    'TraceQL parses without error nodes: %s',
    (_, query) => {
      expect(errors(traceqlParser.parse(interpolate(query)))).toEqual([]);
    },
  );

  it('the grammars report errors on broken queries (they can fail)', () => {
    expect(errors(logqlParser.parse('{service_name="x" | request_id='))).not.toEqual([]);
    expect(errors(traceqlParser.parse('{ span.x = && }'))).not.toEqual([]);
  });

  it('the Grafana links between signals use the same LogQL and PromQL the dashboards do', () => {
    const tempo = readYaml<any>('ops/grafana/provisioning/datasources/datasources.yaml').datasources.find(
      (d: { uid: string }) => d.uid === 'tempo',
    );
    // Grafana's provisioning loader turns `$$` into `$`; the link variables become concrete values.
    const logs = (tempo.jsonData.tracesToLogsV2.query as string)
      .replaceAll('$$', '$')
      .replace('${__trace.traceId}', '4bf92f3577b34da6a3ce929d0e0e4736');
    expect(errors(logqlParser.parse(logs))).toEqual([]);
  });
});
