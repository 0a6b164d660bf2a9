import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN_ENDPOINTS, E, endpointsIn } from '../../k6/lib/endpoints.ts';
import { type SuiteName, suites } from '../../k6/lib/suites.ts';
import { coveredEndpoints, tagged, thresholdsFor, uncovered } from '../../k6/lib/thresholds.ts';
import { LATENCY_MS } from '../../k6/sla.ts';

const all = suites({});
const source = (...files: string[]) =>
  files.map((file) => readFileSync(`k6/support/${file}`, 'utf8')).join('\n');

// The files whose requests each suite sends (the flow and the session login it relies on).
const FLOW_SOURCES: Record<SuiteName, string[]> = {
  smoke: ['smoke-flow.ts'],
  load: ['session-flow.ts', 'session.ts'],
  spike: ['session-flow.ts', 'session.ts'],
  soak: ['session-flow.ts', 'session.ts', 'soak-flow.ts'],
  stress: ['stress-flow.ts'],
  limits: ['limits-flow.ts', 'session.ts'],
};

/** k6's own rule for `metric{tag:value,…}` threshold names (metrics.ParseMetricName). */
function parsesInK6(name: string): boolean {
  const open = name.indexOf('{');
  if (open < 0) return !name.includes('}');
  if (name.lastIndexOf('}') !== name.length - 1) return false;
  return name
    .slice(open + 1, -1)
    .split(',')
    .every((pair) => {
      const [key, value] = [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)];
      return pair.includes(':') && key.trim() !== '' && value !== '';
    });
}

describe('SLA → k6 thresholds', () => {
  it('gives every endpoint of the load session its own p50/p95/p99 from sla.ts, and 0 failures / 100 % checks', () => {
    const thresholds = thresholdsFor([all.load], { explicit: true, admin: false });
    expect(thresholds.http_req_failed).toEqual(['rate==0']);
    expect(thresholds.checks).toEqual(['rate==1']);
    for (const endpoint of [E.login, E.list, E.get, E.upload, E.download]) {
      expect(thresholds[tagged('http_req_duration', { scenario: 'load', endpoint })]).toEqual([
        `p(50)<${LATENCY_MS.p50}`,
        `p(95)<${LATENCY_MS.p95}`,
        `p(99)<${LATENCY_MS.p99}`,
      ]);
      expect(thresholds[`http_reqs{scenario:load,endpoint:${endpoint}}`]).toEqual(['count>0']);
      expect(thresholds[`unexpected_status{scenario:load,endpoint:${endpoint}}`]).toEqual(['count==0']);
    }
    expect(thresholds['http_req_duration{scenario:load,endpoint:GET /v1/documents/{id}}']).toBeDefined();
  });

  for (const name of Object.keys(FLOW_SOURCES) as SuiteName[]) {
    it(`${name}: every endpoint its scripts tag is declared, and has its thresholds in each SLA scenario`, () => {
      const suite = all[name];
      const tagged = endpointsIn(source(...FLOW_SOURCES[name]));
      expect(tagged.length).toBeGreaterThan(0);
      expect(tagged.filter((endpoint) => !suite.endpoints.includes(endpoint))).toEqual([]);
      const thresholds = thresholdsFor([suite], { explicit: true, admin: true });
      for (const scenario of suite.slaScenarios) expect(uncovered(tagged, thresholds, scenario)).toEqual([]);
      for (const scenario of Object.keys(suite.scenarios)) {
        for (const endpoint of tagged) {
          expect(thresholds[`unexpected_status{scenario:${scenario},endpoint:${endpoint}}`]).toEqual([
            'count==0',
          ]);
        }
      }
    });
  }

  it('declares no endpoint the scripts never call (a stale list would make `count>0` fail the run)', () => {
    for (const name of Object.keys(FLOW_SOURCES) as SuiteName[]) {
      const tagged = endpointsIn(source(...FLOW_SOURCES[name]));
      expect(all[name].endpoints.filter((endpoint) => !tagged.includes(endpoint))).toEqual([]);
    }
  });

  it('reports an endpoint without thresholds (the guard can fail)', () => {
    const thresholds = thresholdsFor([all.load], { explicit: true, admin: false });
    expect(uncovered([E.list, E.me], thresholds, 'load')).toEqual([E.me]);
    delete thresholds[tagged('http_req_duration', { scenario: 'load', endpoint: E.get })];
    expect(uncovered([E.get], thresholds, 'load')).toEqual([E.get]);
  });

  it('covers the admin endpoints only when an admin can log in', () => {
    expect(coveredEndpoints(all.smoke, false).some((e) => ADMIN_ENDPOINTS.includes(e))).toBe(false);
    const withAdmin = thresholdsFor([all.smoke], { explicit: true, admin: true });
    expect(
      withAdmin[tagged('http_req_duration', { scenario: 'smoke', endpoint: E.adminAudit })],
    ).toBeDefined();
  });

  it('puts no latency SLA on stress or the spike itself, but on the spike recovery', () => {
    const thresholds = thresholdsFor([all.stress, all.spike], { explicit: true, admin: false });
    const judged = Object.keys(thresholds).filter((key) => thresholds[key]!.some((e) => e.startsWith('p(')));
    expect(judged.length).toBeGreaterThan(0);
    expect(judged.every((key) => key.includes('scenario:spike_recovery,'))).toBe(true);
    // The rest only keeps the latency for the summary.
    expect(thresholds['http_req_duration{scenario:stress,endpoint:GET /v1/documents}']).toEqual(['max>=0']);
    expect(thresholds.overloaded_responses).toEqual(['count>0']);
    expect(thresholds['unexpected_status{scenario:spike,endpoint:POST /v1/auth/login}']).toEqual([
      'count==0',
    ]);
  });

  it('gates soak drift on early vs late windows', () => {
    const thresholds = thresholdsFor([all.soak], { explicit: true, admin: false });
    expect(thresholds['http_req_duration{scenario:soak,window:early}']).toHaveLength(3);
    expect(thresholds['http_req_duration{scenario:soak,window:late}']).toHaveLength(3);
    expect(thresholds.soak_drift_ratio).toEqual(['med<1.5']);
  });

  it('only uses thresholds that are safe without samples when every suite is declared (--scenario)', () => {
    const thresholds = thresholdsFor(Object.values(all), { explicit: false, admin: true });
    const expressions = Object.entries(thresholds).filter(
      ([name]) => name.includes('{') || name.includes('_'),
    );
    // A counter `count>0` or a tagged rate fails when its suite did not run.
    for (const [name, list] of expressions) {
      if (['http_req_failed', 'checks'].includes(name)) continue;
      expect(
        list.some((expression) => expression.includes('>0') || expression.startsWith('rate')),
        name,
      ).toBe(false);
    }
  });

  it('writes every threshold name in a form k6 parses', () => {
    const thresholds = thresholdsFor(Object.values(all), { explicit: true, admin: true });
    for (const name of Object.keys(thresholds)) expect(parsesInK6(name), name).toBe(true);
    expect(parsesInK6('http_req_duration{endpoint:GET /v1/documents/{id}}')).toBe(true);
    expect(parsesInK6('http_req_duration{endpoint}')).toBe(false);
  });
});
