// The six suites as plain data: their k6 scenarios, the endpoints each covers (the thresholds are built
// from these lists), how many pool users each needs, and which scenarios the latency SLA applies to.
// No k6 import here: vitest checks this module under Node.
import { E, type Endpoint } from './endpoints.ts';

export const SUITE_NAMES = ['smoke', 'load', 'stress', 'spike', 'soak', 'limits'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

type Stage = { duration: string; target: number };
/** The subset of k6's scenario options the suites use (checked against k6's own types in k6/support). */
export type ScenarioConfig =
  | {
      executor: 'constant-vus';
      vus: number;
      duration: string;
      exec: string;
      startTime?: string;
      gracefulStop?: string;
    }
  | {
      executor: 'ramping-vus';
      startVUs: number;
      stages: Stage[];
      exec: string;
      gracefulRampDown?: string;
      gracefulStop?: string;
    }
  | { executor: 'per-vu-iterations'; vus: number; iterations: number; maxDuration: string; exec: string }
  | {
      executor: 'ramping-arrival-rate';
      startRate: number;
      timeUnit: string;
      preAllocatedVUs: number;
      maxVUs: number;
      stages: Stage[];
      exec: string;
      gracefulStop?: string;
    };

export type Suite = {
  name: SuiteName;
  /** One line: what a pass proves. */
  proves: string;
  scenarios: Record<string, ScenarioConfig>;
  /** Scenarios whose requests must meet the latency SLA, endpoint by endpoint. */
  slaScenarios: string[];
  /** Endpoints the suite sends requests to (each gets its thresholds in every SLA scenario). */
  endpoints: Endpoint[];
  /** Pool users the set-up prepares (one per VU where a VU holds a session). */
  users: number;
  /** Rough upper bound of test time, for the API keys' expiry and the set-up's login budget. */
  maxMinutes: number;
};

export type Env = Record<string, string | undefined>;

const num = (env: Env, name: string, fallback: number): number => {
  const value = Number(env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const text = (env: Env, name: string, fallback: string): string => env[name] || fallback;
/** `5m`, `1h`, `90s` → seconds. */
export const secondsOf = (duration: string): number => {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(duration.trim());
  if (!match) throw new Error(`not a duration: "${duration}" (use 90s, 5m or 1h)`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
};
/** Minutes, rounded up (budgets). */
export const minutesOf = (duration: string): number => Math.ceil(secondsOf(duration) / 60);

export const SESSION_FLOW: Endpoint[] = [E.login, E.list, E.get, E.upload, E.download];

/** Every suite, parameterised by the environment (`-e LOAD_VUS=…`, see k6/README.md). */
export function suites(env: Env = {}): Record<SuiteName, Suite> {
  const smokeDuration = text(env, 'SMOKE_DURATION', '1m');
  const loadVus = num(env, 'LOAD_VUS', 50);
  const loadDuration = text(env, 'LOAD_DURATION', '5m');
  const soakVus = num(env, 'SOAK_VUS', 50);
  const soakDuration = text(env, 'SOAK_DURATION', '1h');
  const spikeVus = num(env, 'SPIKE_VUS', 200);
  const stressRate = num(env, 'STRESS_MAX_RATE', 3000);
  const stressVus = num(env, 'STRESS_MAX_VUS', 600);
  return {
    smoke: {
      name: 'smoke',
      proves: 'every endpoint and the main error paths answer as API.md says, within the SLA',
      scenarios: { smoke: { executor: 'constant-vus', vus: 1, duration: smokeDuration, exec: 'smoke' } },
      slaScenarios: ['smoke'],
      endpoints: Object.values(E),
      users: 2,
      maxMinutes: minutesOf(smokeDuration) + 2,
    },
    load: {
      name: 'load',
      proves: `${loadVus} users (log in once, then list → get → upload → download, 0.5–1.5 s think time) within the SLA`,
      scenarios: {
        load: {
          executor: 'constant-vus',
          vus: loadVus,
          duration: loadDuration,
          exec: 'load',
          gracefulStop: '30s',
        },
      },
      slaScenarios: ['load'],
      endpoints: SESSION_FLOW,
      users: loadVus,
      maxMinutes: minutesOf(loadDuration) + 2,
    },
    stress: {
      name: 'stress',
      proves:
        'past capacity the API sheds with 503 `overloaded` + Retry-After, never a timeout, reset or other 5xx',
      scenarios: {
        stress: {
          executor: 'ramping-arrival-rate',
          startRate: 10,
          timeUnit: '1s',
          preAllocatedVUs: 50,
          maxVUs: stressVus,
          stages: [
            { duration: '1m', target: Math.round(stressRate / 4) },
            { duration: '3m', target: stressRate },
            { duration: '1m', target: stressRate },
            { duration: '30s', target: 0 },
          ],
          exec: 'stress',
          gracefulStop: '15s',
        },
      },
      slaScenarios: [],
      endpoints: [E.upload, E.list, E.get],
      users: num(env, 'STRESS_USERS', 20),
      maxMinutes: 8,
    },
    spike: {
      name: 'spike',
      proves: `0 → ${spikeVus} users in 10 s and back: only 429/503 (with their headers) as errors, then the SLA again`,
      scenarios: {
        spike: {
          executor: 'ramping-vus',
          startVUs: 0,
          stages: [
            { duration: '10s', target: spikeVus },
            { duration: '10s', target: spikeVus },
            { duration: '10s', target: 0 },
          ],
          exec: 'spike',
          gracefulRampDown: '10s',
        },
        spike_recovery: {
          executor: 'constant-vus',
          vus: 10,
          duration: '1m',
          startTime: '45s',
          exec: 'recovery',
        },
      },
      slaScenarios: ['spike_recovery'],
      endpoints: SESSION_FLOW,
      users: spikeVus,
      maxMinutes: 3,
    },
    soak: {
      name: 'soak',
      proves: `${soakVus} users for ${soakDuration} within the SLA, late-window latency within the drift allowance of the early window`,
      scenarios: {
        soak: {
          executor: 'constant-vus',
          vus: soakVus,
          duration: soakDuration,
          exec: 'soak',
          gracefulStop: '30s',
        },
      },
      slaScenarios: ['soak'],
      endpoints: [...SESSION_FLOW, E.deleteDoc],
      users: soakVus,
      maxMinutes: minutesOf(soakDuration) + 2,
    },
    limits: {
      name: 'limits',
      proves:
        'a client over its `account` or `api_key` policy gets 429 with correct RateLimit headers and Retry-After, never a 5xx',
      scenarios: {
        limits: {
          executor: 'per-vu-iterations',
          vus: 1,
          iterations: num(env, 'LIMITS_ROUNDS', 2),
          maxDuration: '6m',
          exec: 'limits',
        },
      },
      slaScenarios: ['limits'],
      endpoints: [E.login, E.list],
      users: 2,
      maxMinutes: 7,
    },
  };
}

/**
 * Which suites a run executes. `-e SCENARIO=load` (or an entry file such as k6/load.ts) names one;
 * without it every suite is declared so that k6's own `--scenario <name>` can pick, and the set-up
 * refuses to run more than one suite at once.
 */
export function selectSuites(scenario: string | undefined): { names: SuiteName[]; explicit: boolean } {
  if (!scenario) return { names: [...SUITE_NAMES], explicit: false };
  const names = scenario.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(SUITE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length !== 1) {
    throw new Error(`SCENARIO must be one of ${SUITE_NAMES.join(', ')} (got "${scenario}")`);
  }
  return { names: names as SuiteName[], explicit: true };
}

/** The suites whose scenarios k6 actually runs (after `--scenario` filtered the declared ones). */
export function activeSuites(all: Record<SuiteName, Suite>, scenarioNames: string[]): SuiteName[] {
  return SUITE_NAMES.filter((name) =>
    Object.keys(all[name].scenarios).some((s) => scenarioNames.includes(s)),
  );
}

/**
 * Logins (the `login` policy also counts refresh and logout) one run makes from the k6 host: the
 * set-up's (admin, each pool user), the VUs' sessions, and teardown's (an admin login, or a refresh and
 * a logout per pool user without one).
 */
export function loginBudget(suite: Suite, admin: boolean): number {
  const vus = {
    smoke: 4,
    load: suite.users,
    soak: suite.users,
    spike: suite.users + 10,
    stress: 0,
    limits: 1,
  }[suite.name];
  return (admin ? 1 : 0) + suite.users + vus + (admin ? 1 : 2 * suite.users);
}

/** `5m`, `1h`, `90s` → milliseconds. */
export const durationMs = (duration: string): number => secondsOf(duration) * 1000;

/** Whether a base URL points at this machine (loopback), where throw-away defaults are acceptable. */
export function isThisMachine(url: string): boolean {
  const host = /^https?:\/\/(\[[^\]]+\]|[^/:]+)/.exec(url)?.[1] ?? '';
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
