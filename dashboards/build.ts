// `pnpm dashboards`: writes dashboards/*.json from dashboards/src (Grafana Foundation SDK).
// test/ops/generated.test.ts fails when the committed JSON differs from what this writes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderDashboards } from './src/index.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
for (const [file, json] of Object.entries(renderDashboards())) {
  writeFileSync(`${dir}${file}`, json);
  console.error(`wrote dashboards/${file}`);
}
