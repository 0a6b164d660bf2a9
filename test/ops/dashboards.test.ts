// Dashboards as code: the committed JSON is exactly what `pnpm dashboards` writes (and the SLO rules
// what `pnpm slo:rules` writes), and every dashboard validates against a JSON schema generated from the
// Grafana Foundation SDK's own TypeScript types for a dashboard (ts-json-schema-generator).
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import { describe, expect, it } from 'vitest';
import { renderDashboards } from '../../dashboards/src/index.ts';
import { DASHBOARD_UIDS } from '../../dashboards/src/links.ts';
import { renderSloRules, SLO_RULES_FILE } from '../../ops/prometheus/slo-rules.ts';
import { DASHBOARD_FILES, dashboardJson, path } from './support.ts';

describe('generated files', () => {
  const rendered = renderDashboards();

  it('dashboards/*.json are exactly what `pnpm dashboards` writes (run it after editing dashboards/src)', () => {
    expect(Object.keys(rendered).sort()).toEqual([...DASHBOARD_FILES].sort());
    for (const [file, json] of Object.entries(rendered)) {
      expect(readFileSync(path(`dashboards/${file}`), 'utf8'), file).toBe(json);
    }
  });

  it('ops/prometheus/rules/slo.rules.yml is exactly what `pnpm slo:rules` writes', () => {
    expect(readFileSync(SLO_RULES_FILE, 'utf8')).toBe(renderSloRules());
  });

  it('every dashboard has the fixed uid the runbook links to', () => {
    const uids = DASHBOARD_FILES.map((f) => dashboardJson(f).uid);
    expect(uids.sort()).toEqual(Object.values(DASHBOARD_UIDS).sort());
    const runbook = readFileSync(path('runbook/alerts.md'), 'utf8');
    for (const uid of uids) expect(runbook).toContain(`/d/${uid}`);
  });
});

const SDK = 'node_modules/@grafana/grafana-foundation-sdk/dist';

/** The JSON schema ts-json-schema-generator derives from one exported type of the SDK. */
function sdkSchema(file: string, type: string) {
  return createGenerator({
    path: path(`${SDK}/${file}`),
    type,
    skipTypeCheck: true,
    additionalProperties: false,
  }).createSchema(type) as { definitions: Record<string, object> };
}

/**
 * The SDK's Dashboard type leaves a panel's targets as an open `Dataquery` variant; each datasource
 * package defines its own. The schema here closes it: a target must be exactly one of the Prometheus,
 * Loki or Tempo query types (no unknown field in either).
 */
function dashboardSchema() {
  const dashboard = sdkSchema('dashboard/types.gen.d.ts', 'Dashboard');
  const variants = [
    ['Prometheus', sdkSchema('prometheus/types.gen.d.ts', 'Dataquery')],
    ['Loki', sdkSchema('loki/types.gen.d.ts', 'dataquery')],
    ['Tempo', sdkSchema('tempo/types.gen.d.ts', 'Dataquery')],
  ] as const;
  const definitions: Record<string, object> = { ...dashboard.definitions };
  for (const [prefix, schema] of variants) {
    const renamed = JSON.parse(
      JSON.stringify(schema.definitions).replace(/#\/definitions\/([\w.]+)/g, `#/definitions/${prefix}.$1`),
    ) as Record<string, object>;
    for (const [name, definition] of Object.entries(renamed)) definitions[`${prefix}.${name}`] = definition;
  }
  definitions.Dataquery = {
    anyOf: [
      { $ref: '#/definitions/Prometheus.Dataquery' },
      { $ref: '#/definitions/Loki.dataquery' },
      { $ref: '#/definitions/Tempo.Dataquery' },
    ],
  };
  return { ...dashboard, definitions };
}

describe('dashboard schema (from @grafana/grafana-foundation-sdk types)', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(dashboardSchema());

  it.each(DASHBOARD_FILES)('%s validates', (file) => {
    const valid = validate(dashboardJson(file));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('rejects a misspelt dashboard field and a misspelt query field (the schema can fail)', () => {
    const json = dashboardJson(DASHBOARD_FILES[0]!);
    expect(validate({ ...json, titel: 'x' })).toBe(false);
    const panel = json.panels.find((p: { targets?: unknown[] }) => p.targets);
    panel.targets[0] = { ...panel.targets[0], exprr: 'up' };
    expect(validate(json)).toBe(false);
  });
});
