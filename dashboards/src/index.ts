// Every dashboard of dashboards/, by file name. `pnpm dashboards` writes them; tests read the same list.
import { apiOverview } from './api-overview.ts';
import { dependencies } from './dependencies.ts';
import { biomeFormat } from './format.ts';
import { logsTraces } from './logs-traces.ts';
import { runtime } from './runtime.ts';
import { worker } from './worker.ts';

export const DASHBOARDS = {
  'api-overview': apiOverview,
  dependencies,
  runtime,
  'logs-traces': logsTraces,
  worker,
} as const;

/** The JSON Grafana loads, exactly as committed under dashboards/. */
export function renderDashboards(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(DASHBOARDS).map(([name, build]) => [
      `${name}.json`,
      biomeFormat(`dashboards/${name}.json`, JSON.stringify(build().build(), null, 2)),
    ]),
  );
}
