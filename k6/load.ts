// k6 run k6/load.ts -e BASE_URL=http://localhost:3000 (see k6/README.md)
import { entry } from './support/entry.ts';

const run = entry('load');
export const options = run.options;
export const setup = run.setup;
export const teardown = run.teardown;
export const handleSummary = run.handleSummary;
export { load } from './support/exec.ts';
