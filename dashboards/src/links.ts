// Where alerts and dashboards point operators: the runbook's per-alert sections and the dashboards.
// Alert links are repository paths (`runbook/alerts.md#anchor`): the notification template prefixes
// the code host's URL of the deployed revision, so a link never points at another version's runbook.

export const RUNBOOK_PATH = 'runbook/alerts.md';
export const RUNBOOK_BASE = RUNBOOK_PATH;

/** GitHub-style heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The runbook section of an alert: its heading is the alert name. */
export const alertLink = (alertName: string) => `${RUNBOOK_BASE}#${anchor(alertName)}`;

export const DASHBOARD_UIDS = {
  apiOverview: 'stowage-api-overview',
  dependencies: 'stowage-dependencies',
  runtime: 'stowage-runtime',
  logsTraces: 'stowage-logs-traces',
  worker: 'stowage-worker',
} as const;

export const DATASOURCES = {
  prometheus: { type: 'prometheus', uid: 'prometheus' },
  loki: { type: 'loki', uid: 'loki' },
  tempo: { type: 'tempo', uid: 'tempo' },
} as const;
