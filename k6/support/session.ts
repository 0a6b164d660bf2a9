// A VU's session (k6 module state is per VU): a pool user chosen by VU number, logged in once and
// again only when its access token is about to expire (soak runs past the 15-minute lifetime).

import { sleep } from 'k6';
import exec from 'k6/execution';
import { E } from '../lib/endpoints.ts';
import { json, jsonHeaders, type Response, send } from './api.ts';
import type { PoolUser, SetupData } from './setup.ts';

const LOGIN_SPREAD_S = Number(__ENV.LOGIN_SPREAD_S || 10);

// Keyed by scenario: k6 may hand a VU that ran `spike` to `spike_recovery`, which must log in itself.
let current: { scenario: string; email: string; token: string; expiresAt: number } | undefined;

export const userFor = (data: SetupData, offset = 0): PoolUser =>
  data.users[(exec.vu.idInTest - 1 + offset) % data.users.length]!;

/** The VU's access token, logging in first when needed; undefined when the login was refused. */
export function sessionToken(data: SetupData, expect = [200]): { token?: string; res?: Response } {
  const user = userFor(data);
  const scenario = exec.scenario.name;
  if (
    current?.scenario === scenario &&
    current.email === user.email &&
    current.expiresAt - Date.now() > 60_000
  ) {
    return { token: current.token };
  }
  // Users arrive over a few seconds, not in one millisecond: a login is an argon2id hash.
  if (!current && LOGIN_SPREAD_S > 0) sleep(Math.random() * LOGIN_SPREAD_S);
  const res = send('POST', '/v1/auth/login', E.login, {
    body: JSON.stringify({ email: user.email, password: data.password }),
    headers: jsonHeaders,
    expect,
  });
  const body = json<{ access_token: string; expires_in: number }>(res);
  if (res.status !== 200 || !body?.access_token) return { res };
  current = {
    scenario,
    email: user.email,
    token: body.access_token,
    expiresAt: Date.now() + body.expires_in * 1000,
  };
  return { token: current.token, res };
}
