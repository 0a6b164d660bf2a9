// k6 run k6/smoke.ts -e BASE_URL=http://localhost:3000 (see k6/README.md)
import { entry } from './support/entry.ts';

const run = entry('smoke');
export const options = run.options;
export const setup = run.setup;
export const teardown = run.teardown;
export const handleSummary = run.handleSummary;
export { smoke } from './support/exec.ts';
