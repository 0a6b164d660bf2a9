// Set-up and teardown against a real deployment (the pool: pool.ts). Each pool user gets an API key
// for this run; teardown uses it to delete every document the pool holds, then either the admin
// disables the accounts (ending their sessions and stopping their keys at once) or, without an admin,
// each set-up session deletes its key and logs out.
import { sleep } from 'k6';
import http from 'k6/http';
import { E } from '../lib/endpoints.ts';
import { header } from '../lib/headers.ts';
import type { Suite, SuiteName } from '../lib/suites.ts';
import { BASE_URL, json, jsonHeaders, metrics, type Response, send } from './api.ts';
import {
  abort,
  adminLogin,
  assertPasswordChosen,
  cookieOf,
  HAS_ADMIN,
  logInPool,
  PASSWORD,
  poolEmail,
  preparePool,
  REFRESH_COOKIE,
} from './pool.ts';

export { HAS_ADMIN, poolEmail };

export type PoolUser = {
  index: number;
  id: string;
  email: string;
  key: string;
  keyId: string;
  cookie: string;
};
export type SetupData = {
  runId: string;
  suite: SuiteName;
  password: string;
  users: PoolUser[];
  admin: boolean;
  /** The pool users' tier during the run (set by the admin; unknown without one). */
  tier?: string;
  /** The admin's access token (15 minutes): smoke calls the admin endpoints with it. */
  adminToken?: string;
  startedAt: number;
};

export function setupRun(suite: Suite): SetupData {
  const runId = Date.now().toString(36);
  const ready = send('GET', '/readyz', E.readyz, { expect: [200, 503] });
  if (ready.status !== 200) abort(`${ready.url} answered ${ready.status}: the target is not ready`);
  assertPasswordChosen();

  const emails = Array.from({ length: suite.users }, (_, i) => poolEmail(i));
  let adminToken: string | undefined;
  let tier: string | undefined;
  if (HAS_ADMIN) {
    adminToken = adminLogin();
    // The enterprise tier's API-key rate keeps the rate limit out of stress and of teardown's clean-up;
    // limits needs the free tier's small burst.
    tier = suite.name === 'limits' ? 'free' : 'enterprise';
    preparePool(adminToken, emails, tier);
  }

  const expiresAt = new Date(Date.now() + (suite.maxMinutes + 60) * 60_000).toISOString();
  const users = logInPool(emails, suite).map(({ email, res }, index): PoolUser => {
    const session = json<{ access_token: string; user: { id: string } }>(res)!;
    const created = send('POST', '/v1/api-keys', E.createKey, {
      auth: session.access_token,
      body: JSON.stringify({ name: `k6 ${suite.name} ${runId}`, expires_at: expiresAt }),
      headers: jsonHeaders,
      expect: [201],
    });
    const key =
      json<{ id: string; key: string }>(created) ??
      abort(`creating an API key for ${email}: ${created.status}`);
    return { index, id: session.user.id, email, key: key.key, keyId: key.id, cookie: cookieOf(res) };
  });
  return {
    runId,
    suite: suite.name,
    password: PASSWORD,
    users,
    admin: HAS_ADMIN,
    adminToken,
    tier,
    startedAt: Date.now(),
  };
}

/** Sends until the answer is not a 429, waiting Retry-After in between (teardown must finish its job). */
function retrying(call: () => Response): Response {
  let res = call();
  for (let i = 0; i < 30 && res.status === 429; i++) {
    sleep(Number(header(res.headers, 'Retry-After') ?? 1));
    res = call();
  }
  return res;
}

function deleteDocuments(user: PoolUser): void {
  for (let round = 0; round < 10_000; round++) {
    const list = retrying(() =>
      send('GET', '/v1/documents?limit=100', E.list, { auth: user.key, expect: [200, 429] }),
    );
    const ids = (json<{ data: { id: string }[] }>(list)?.data ?? []).map((doc) => doc.id);
    if (ids.length === 0) return;
    for (let i = 0; i < ids.length; i += 20) {
      const answers = http.batch(
        ids.slice(i, i + 20).map((id) => ({
          method: 'DELETE',
          url: `${BASE_URL}/v1/documents/${id}`,
          params: {
            headers: { Authorization: `Bearer ${user.key}` },
            tags: { endpoint: E.deleteDoc },
            responseCallback: http.expectedStatuses(204, 404, 429),
          },
        })),
      );
      for (const res of answers) if (![204, 404, 429].includes(res.status)) metrics.unexpected.add(1);
      const limited = answers.find((res) => res.status === 429);
      // What was refused is listed again in the next round.
      if (limited) sleep(Number(header(limited.headers, 'Retry-After') ?? 1));
    }
  }
}

/** Deletes the run's key through the set-up's session (refreshed by its cookie), then logs it out. */
function endSession(user: PoolUser): void {
  const refresh = send('POST', '/v1/auth/refresh', E.refresh, {
    headers: { Cookie: `${REFRESH_COOKIE}=${user.cookie}` },
  });
  const token = json<{ access_token: string }>(refresh)?.access_token;
  if (!token) return;
  send('DELETE', `/v1/api-keys/${user.keyId}`, E.deleteKey, { auth: token, expect: [204] });
  send('POST', '/v1/auth/logout', E.logout, {
    headers: { Cookie: `${REFRESH_COOKIE}=${cookieOf(refresh)}` },
    expect: [204],
  });
}

export function teardownRun(data: SetupData | undefined): void {
  if (!data) return;
  for (const user of data.users) deleteDocuments(user);
  if (!data.admin) {
    // An API key cannot delete keys: the set-up's session does it.
    for (const user of data.users) if (user.cookie) endSession(user);
    return;
  }
  // The set-up's token lives 15 minutes; a longer run logs the admin in again.
  const fresh = data.adminToken && Date.now() - data.startedAt < 13 * 60_000;
  const token = fresh ? data.adminToken! : adminLogin();
  for (const user of data.users) {
    send('PATCH', `/v1/admin/users/${user.id}`, E.adminUpdateUser, {
      auth: token,
      body: JSON.stringify({ disabled: true, tier: 'free' }),
      headers: jsonHeaders,
    });
  }
}
