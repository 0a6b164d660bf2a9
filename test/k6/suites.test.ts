import { describe, expect, it } from 'vitest';
import { DriftTracker, soakWindow } from '../../k6/lib/drift.ts';
import {
  activeSuites,
  durationMs,
  isThisMachine,
  loginBudget,
  minutesOf,
  SUITE_NAMES,
  selectSuites,
  suites,
} from '../../k6/lib/suites.ts';

describe('scenario selection', () => {
  it('runs the suite SCENARIO names, and declares all of them for --scenario when it is unset', () => {
    expect(selectSuites('load')).toEqual({ names: ['load'], explicit: true });
    expect(selectSuites(' spike ')).toEqual({ names: ['spike'], explicit: true });
    expect(selectSuites(undefined)).toEqual({ names: [...SUITE_NAMES], explicit: false });
    expect(selectSuites('')).toEqual({ names: [...SUITE_NAMES], explicit: false });
  });

  it('refuses an unknown suite or more than one, naming the valid ones', () => {
    expect(() => selectSuites('laod')).toThrow(
      'SCENARIO must be one of smoke, load, stress, spike, soak, limits',
    );
    expect(() => selectSuites('load,soak')).toThrow(/got "load,soak"/);
  });

  it('maps the scenarios k6 kept (after --scenario) back to their suite', () => {
    const all = suites({});
    expect(activeSuites(all, ['spike_recovery'])).toEqual(['spike']);
    expect(activeSuites(all, ['spike', 'spike_recovery'])).toEqual(['spike']);
    expect(
      activeSuites(all, Object.keys(Object.assign({}, ...Object.values(all).map((s) => s.scenarios)))),
    ).toEqual([...SUITE_NAMES]);
  });

  it('gives each suite the shape issue 17 asks for, every scenario naming its exec function', () => {
    const all = suites({});
    expect(all.smoke.scenarios.smoke).toMatchObject({ executor: 'constant-vus', vus: 1, duration: '1m' });
    expect(all.load.scenarios.load).toMatchObject({ executor: 'constant-vus', vus: 50, duration: '5m' });
    expect(all.soak.scenarios.soak).toMatchObject({ executor: 'constant-vus', vus: 50, duration: '1h' });
    expect(all.spike.scenarios.spike).toMatchObject({
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '10s', target: 200 },
        { duration: '10s', target: 200 },
        { duration: '10s', target: 0 },
      ],
    });
    expect(all.stress.scenarios.stress).toMatchObject({ executor: 'ramping-arrival-rate' });
    const execs = Object.values(all).flatMap((suite) => Object.values(suite.scenarios).map((s) => s.exec));
    expect(new Set(execs)).toEqual(
      new Set(['smoke', 'load', 'stress', 'spike', 'recovery', 'soak', 'limits']),
    );
    expect(all.load.users).toBe(50);
    expect(all.spike.users).toBe(200);
  });

  it('takes sizes and durations from the environment', () => {
    const all = suites({
      LOAD_VUS: '5',
      LOAD_DURATION: '30s',
      SPIKE_VUS: '20',
      SOAK_DURATION: '10m',
      LOAD_NOPE: 'x',
    });
    expect(all.load.scenarios.load).toMatchObject({ vus: 5, duration: '30s' });
    expect(all.load.users).toBe(5);
    expect(all.spike.users).toBe(20);
    expect(all.soak.maxMinutes).toBe(12);
    expect(suites({ LOAD_VUS: 'many' }).load.users).toBe(50);
  });

  it('reads durations and estimates the logins a run makes from one address', () => {
    expect([minutesOf('90s'), minutesOf('5m'), minutesOf('1h')]).toEqual([2, 5, 60]);
    expect(durationMs('90s')).toBe(90_000);
    expect(() => minutesOf('5 minutes')).toThrow('not a duration');
    const all = suites({});
    expect(loginBudget(all.load, true)).toBeGreaterThan(100); // well above the default 10/min
    expect(loginBudget(all.smoke, false)).toBeLessThanOrEqual(10); // smoke fits the default policy
    expect(loginBudget(all.smoke, true)).toBeLessThanOrEqual(10);
  });
});

describe('soak drift', () => {
  it('splits the run into warm-up, early, middle and late windows', () => {
    const hour = 3_600_000;
    expect([0, 0.1, 0.2, 0.5, 0.85, 0.99].map((share) => soakWindow(share * hour, hour))).toEqual([
      'warmup',
      'early',
      'early',
      'middle',
      'late',
      'late',
    ]);
  });

  it('compares each late request with the VU’s early median for that endpoint', () => {
    const drift = new DriftTracker();
    for (const ms of [10, 12, 11, 9, 10, 30])
      expect(drift.observe('early', 'GET /v1/documents', ms)).toBeUndefined();
    expect(drift.observe('middle', 'GET /v1/documents', 100)).toBeUndefined();
    expect(drift.observe('late', 'GET /v1/documents', 21)).toBeCloseTo(2);
    expect(drift.observe('late', 'GET /v1/me', 21)).toBeUndefined(); // no baseline for it
  });
});

describe('load-test accounts', () => {
  it('keeps the default password to loopback targets', () => {
    for (const url of [
      'http://localhost:3000',
      'http://127.0.0.1:3417',
      'http://[::1]:3000',
      'http://127.9.9.9',
    ]) {
      expect(isThisMachine(url), url).toBe(true);
    }
    for (const url of [
      'https://api.example.com',
      'http://10.0.0.5:8080',
      'http://localhost.example.com',
      'http://[::2]:80',
    ]) {
      expect(isThisMachine(url), url).toBe(false);
    }
  });
});
