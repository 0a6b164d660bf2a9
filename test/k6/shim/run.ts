// Runs a k6 entry file under Node with the shims: setup(), N iterations of each scenario's exec
// function (one VU), teardown(), then k6-style threshold evaluation and handleSummary(). Not k6: it
// checks the scripts' request flows and expectations against a real server, not load behaviour.
//   node --import ./test/k6/shim/register.ts test/k6/shim/run.ts k6/smoke.ts [iterations]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Sample, state } from './state.ts';

const [entry, iterationsArg] = process.argv.slice(2);
const iterations = Number(iterationsArg ?? 1);
(globalThis as Record<string, unknown>).__ENV = Object.freeze({ ...process.env });

type Entry = {
  options: { scenarios: Record<string, { exec: string }>; thresholds: Record<string, string[]> };
  setup?: () => unknown;
  teardown?: (data: unknown) => void;
  handleSummary?: (data: unknown) => Record<string, string>;
} & Record<string, unknown>;

const mod = (await import(pathToFileURL(resolve(entry!)).href)) as Entry;
state.options = mod.options;
const data = JSON.parse(JSON.stringify(mod.setup?.() ?? null));
for (const [scenario, config] of Object.entries(mod.options.scenarios)) {
  state.scenario = scenario;
  for (state.iteration = 0; state.iteration < iterations; state.iteration++) {
    (mod[config.exec] as (data: unknown) => void)(data);
  }
}
state.scenario = undefined;
mod.teardown?.(data);

// k6's aggregation of a metric's samples, restricted to a sub-metric's tags.
const TYPES: Record<string, Sample['type']> = {
  http_reqs: 'counter',
  http_req_duration: 'trend',
  http_req_failed: 'rate',
  checks: 'rate',
};
function aggregate(name: string) {
  const open = name.indexOf('{');
  const metric = open < 0 ? name : name.slice(0, open);
  const tags =
    open < 0
      ? []
      : name
          .slice(open + 1, -1)
          .split(',')
          .map((pair) => [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)] as const);
  const samples = state.samples.filter((s) => s.metric === metric && tags.every(([k, v]) => s.tags[k] === v));
  const type = samples[0]?.type ?? TYPES[metric] ?? (metric.endsWith('ratio') ? 'trend' : 'counter');
  const values = samples.map((s) => s.value);
  const seconds = (Date.now() - state.startedAt) / 1000;
  if (type === 'counter') {
    const count = values.reduce((a, b) => a + b, 0);
    return { type, values: { count, rate: count / seconds } as Record<string, number> };
  }
  if (type === 'rate') {
    const passes = values.filter(Boolean).length;
    return {
      type,
      values: {
        rate: values.length ? passes / values.length : Number.NaN,
        passes,
        fails: values.length - passes,
      },
    };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (q: number) => {
    if (sorted.length === 0) return 0;
    const i = q * (sorted.length - 1);
    const lo = sorted[Math.floor(i)]!;
    return lo + (sorted[Math.ceil(i)]! - lo) * (i - Math.floor(i));
  };
  return {
    type,
    values: {
      avg: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0,
      min: sorted[0] ?? 0,
      med: pct(0.5),
      max: sorted.at(-1) ?? 0,
      'p(50)': pct(0.5),
      'p(95)': pct(0.95),
      'p(99)': pct(0.99),
      count: sorted.length,
    } as Record<string, number>,
  };
}

function passes(expression: string, values: Record<string, number>): boolean {
  const match = /^([a-z]+(?:\([\d.]+\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?[\d.]+)$/.exec(expression.trim());
  if (!match) throw new Error(`threshold not understood: ${expression}`);
  const lhs = values[match[1]!] ?? Number.NaN;
  const rhs = Number(match[3]);
  return {
    '<': lhs < rhs,
    '<=': lhs <= rhs,
    '>': lhs > rhs,
    '>=': lhs >= rhs,
    '==': lhs === rhs,
    '===': lhs === rhs,
    '!=': lhs !== rhs,
  }[match[2] as '<'];
}

const metrics: Record<string, unknown> = {};
const failed: string[] = [];
for (const name of [
  'http_reqs',
  'http_req_duration',
  'http_req_failed',
  'checks',
  ...new Set(state.samples.map((s) => s.metric)),
]) {
  metrics[name] = aggregate(name);
}
for (const [name, expressions] of Object.entries(mod.options.thresholds)) {
  const metric = aggregate(name);
  const thresholds = Object.fromEntries(expressions.map((e) => [e, { ok: passes(e, metric.values) }]));
  for (const [e, { ok }] of Object.entries(thresholds))
    if (!ok) failed.push(`${name}: ${e} (${JSON.stringify(metric.values)})`);
  metrics[name] = { ...metric, thresholds };
}
const outputs = mod.handleSummary?.({ metrics, setup_data: data }) ?? {};
for (const [path, text] of Object.entries(outputs)) {
  if (path === 'stdout' || path === 'stderr') continue;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
const failedChecks = [...state.checks]
  .filter(([, tally]) => tally.fails > 0)
  .map(([name, tally]) => `${name} (${tally.fails} failed)`);
console.log(
  `K6SHIM ${JSON.stringify({ failedThresholds: failed, failedChecks, checks: state.checks.size, files: Object.keys(outputs), table: outputs.stdout })}`,
);
