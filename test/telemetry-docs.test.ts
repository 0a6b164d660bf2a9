// The runbook's metric table is generated from the registry (`pnpm docs:metrics`); this fails when a
// metric is added, renamed or re-described without regenerating it, and checks the catalogue's rules.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spliceMetricsTable, TELEMETRY_RUNBOOK } from '../scripts/metrics-table.ts';
import { HTTP_DURATION_BUCKETS, registry } from '../src/telemetry/metrics.ts';

describe('the metric catalogue', () => {
  it('runbook/telemetry.md lists exactly the registered metrics (run `pnpm docs:metrics`)', async () => {
    const committed = readFileSync(TELEMETRY_RUNBOOK, 'utf8');
    expect(await spliceMetricsTable(committed)).toBe(committed);
  });

  it('names follow the conventions: OTel semconv names, stowage_* for the product, counters end in _total', () => {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, help } = metric as unknown as { name: string; help: string };
      expect(name).toMatch(/^(http_server_|db_client_|stowage_|nodejs_|process_)[a-z0-9_]+$/);
      expect(help.length).toBeGreaterThan(20);
    }
    const counters = registry
      .getMetricsAsArray()
      .filter((m) => (m as unknown as { type: string }).type === 'counter')
      .map((m) => (m as unknown as { name: string }).name);
    for (const name of counters) expect(name).toMatch(/_total$/);
  });

  it('the request histogram has a bucket edge at each SLO: 50, 100, 200 and 500 ms', () => {
    for (const edge of [0.05, 0.1, 0.2, 0.5]) expect(HTTP_DURATION_BUCKETS).toContain(edge);
  });

  it('the runbook links the telemetry page', () => {
    expect(readFileSync(new URL('../runbook/RUNBOOK.md', import.meta.url), 'utf8')).toContain(
      '(telemetry.md)',
    );
  });
});
