// k6 run k6/spike.ts -e BASE_URL=http://localhost:3000 (see k6/README.md)
import { entry } from './support/entry.ts';

const run = entry('spike');
export const options = run.options;
export const setup = run.setup;
export const teardown = run.teardown;
export const handleSummary = run.handleSummary;
export { recovery, spike } from './support/exec.ts';
