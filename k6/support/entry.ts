// What every entry file exports: options (scenarios + thresholds from sla.ts), setup, teardown and
// handleSummary, for one named suite (k6/load.ts, `-e SCENARIO=load`) or, in k6/main.ts without
// SCENARIO, for all of them so that k6's `--scenario <name>` picks one.
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { activeSuites, SUITE_NAMES, type SuiteName, selectSuites, suites } from '../lib/suites.ts';
import { summaryOutputs } from '../lib/summary.ts';
import { SUMMARY_TREND_STATS, thresholdsFor } from '../lib/thresholds.ts';
import { HAS_ADMIN, type SetupData, setupRun, teardownRun } from './setup.ts';

export function entry(fixed?: SuiteName) {
  const all = suites(__ENV);
  const { names, explicit } = fixed ? { names: [fixed], explicit: true } : selectSuites(__ENV.SCENARIO);
  const selected = names.map((name) => all[name]);

  const options: Options = {
    scenarios: Object.assign({}, ...selected.map((suite) => suite.scenarios)),
    thresholds: thresholdsFor(selected, { explicit, admin: HAS_ADMIN }),
    summaryTrendStats: SUMMARY_TREND_STATS,
    setupTimeout: '10m',
    teardownTimeout: '20m',
  };

  function setup(): SetupData {
    const running = explicit ? names : activeSuites(all, Object.keys(exec.test.options.scenarios ?? {}));
    if (running.length !== 1) {
      exec.test.abort(
        `run one suite at a time: -e SCENARIO=<${SUITE_NAMES.join('|')}> or --scenario <name> (selected: ${running.join(', ')})`,
      );
    }
    return setupRun(all[running[0]!]);
  }

  function teardown(data: SetupData): void {
    teardownRun(data);
  }

  function handleSummary(data: unknown): Record<string, string> {
    const ran = (data as { setup_data?: { suite?: SuiteName } }).setup_data?.suite;
    const judged = ran ? [all[ran]] : selected;
    return summaryOutputs(data, {
      resultsDir: __ENV.RESULTS_DIR || 'k6/results',
      name: ran ?? names.join('+'),
      now: new Date(),
      slaScenarios: judged.flatMap((suite) => suite.slaScenarios),
      proves: judged.length === 1 ? judged[0]!.proves : undefined,
    });
  }

  return { options, setup, teardown, handleSummary };
}
