// What the shim records while the k6 scripts run: metric samples with their tags, check outcomes,
// the execution context k6/execution reports.
export type Sample = {
  metric: string;
  type: 'counter' | 'trend' | 'rate';
  value: number;
  tags: Record<string, string>;
};

export const state = {
  samples: [] as Sample[],
  checks: new Map<string, { passes: number; fails: number }>(),
  scenario: undefined as string | undefined,
  iteration: 0,
  startedAt: Date.now(),
  options: {} as Record<string, unknown>,
  sleepScale: Number(process.env.SHIM_SLEEP_SCALE ?? 1),
};

export function record(
  metric: string,
  type: Sample['type'],
  value: number,
  tags: Record<string, string> = {},
) {
  state.samples.push({
    metric,
    type,
    value,
    tags: state.scenario ? { scenario: state.scenario, ...tags } : tags,
  });
}
