// Shim of `k6/execution`: one VU, the iteration the runner is on.
import { state } from './state.ts';

export default {
  vu: {
    get idInTest() {
      return 1;
    },
    get iterationInScenario() {
      return state.iteration;
    },
  },
  scenario: {
    get name() {
      return state.scenario ?? '';
    },
  },
  instance: {
    get currentTestRunDuration() {
      return Date.now() - state.startedAt;
    },
  },
  test: {
    get options() {
      return state.options;
    },
    abort(reason?: string): never {
      throw new Error(`test aborted: ${reason}`);
    },
  },
};
