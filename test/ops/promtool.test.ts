// The real Prometheus tooling over ops/prometheus: the configuration, the rule files and the rule unit
// tests, plus the properties every alert must have (a severity, a summary, a description with its
// values, a runbook section that exists, a unit test that fires it and one that does not).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchor } from '../../dashboards/src/links.ts';
import { alertRules, path, promtool, RULE_FILES, RULE_TEST_FILES, readYaml } from './support.ts';

describe('promtool', () => {
  it('accepts ops/prometheus/prometheus.yml and finds its rule files', () => {
    const { code, output } = promtool('check', 'config', 'ops/prometheus/prometheus.yml');
    expect(output).toContain(`SUCCESS: ${RULE_FILES.length} rule files found`);
    expect(code).toBe(0);
  });

  it('accepts every rule file', () => {
    const { code, output } = promtool('check', 'rules', ...RULE_FILES);
    expect(output).not.toContain('FAILED');
    expect(code).toBe(0);
  });

  it('passes every rule unit test', () => {
    const { code, output } = promtool('test', 'rules', ...RULE_TEST_FILES);
    expect(output).not.toContain('FAILED');
    expect(code).toBe(0);
  }, 60_000);

  it('fails a unit test whose alert does not fire as written (the harness can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    const test = readFileSync(path('ops/prometheus/tests/alerts.test.yml'), 'utf8')
      .replace('../rules/alerts.rules.yml', path('ops/prometheus/rules/alerts.rules.yml'))
      .replace(/values: (['"])1 1 0 0 0 0 0 0\1/, 'values: "1 1 1 1 1 1 1 1"');
    writeFileSync(join(dir, 'broken.test.yml'), test);
    const { code, output } = promtool('test', 'rules', join(dir, 'broken.test.yml'));
    expect(output).toContain('FAILED');
    expect(code).not.toBe(0);
  });
});

describe('every alert', () => {
  const alerts = alertRules();
  const names = [...new Set(alerts.map((a) => a.alert!))];
  const headings = readFileSync(path('runbook/alerts.md'), 'utf8')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => anchor(line.replace(/^#+ /, '')));
  const tests = RULE_TEST_FILES.flatMap(
    (f) =>
      readYaml<{ tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }>(f).tests,
  ).flatMap((t) => t.alert_rule_test ?? []);

  it('exists (the list this suite checks is not empty)', () => {
    expect(names.length).toBeGreaterThanOrEqual(19);
  });

  it.each(alerts.map((a) => [a.alert!, a] as const))(
    '%s has severity, summary, description with values',
    (_, a) => {
      expect(['page', 'ticket']).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.length).toBeGreaterThan(10);
      expect(a.annotations?.description).toMatch(/\{\{ \$(value|labels)/);
    },
  );

  it.each(alerts.map((a) => [a.alert!, a] as const))(
    '%s links to a runbook section that exists',
    (name, a) => {
      expect(a.annotations?.runbook_url).toBe(`runbook/alerts.md#${anchor(name)}`);
      expect(headings).toContain(anchor(name));
    },
  );

  it.each(names)('%s has a unit test that fires it and one where it stays silent', (name) => {
    const mine = tests.filter((t) => t.alertname === name);
    expect(mine.some((t) => t.exp_alerts.length > 0)).toBe(true);
    expect(mine.some((t) => t.exp_alerts.length === 0)).toBe(true);
  });
});
