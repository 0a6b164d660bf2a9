// k6 run k6/main.ts -e SCENARIO=<smoke|load|stress|spike|soak|limits> -e BASE_URL=http://localhost:3000
// (or, with a k6 that has it, `--scenario <name>` instead of SCENARIO). See k6/README.md.
import { entry } from './support/entry.ts';

const run = entry();
export const options = run.options;
export const setup = run.setup;
export const teardown = run.teardown;
export const handleSummary = run.handleSummary;
export { limits, load, recovery, smoke, soak, spike, stress } from './support/exec.ts';
