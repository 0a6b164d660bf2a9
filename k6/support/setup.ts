// Set-up and teardown against a real deployment. Pool users (`k6-0001@<domain>`) are registered once
// and reused by later runs, so a deployment's per-IP `register` limit is only spent on the first run;
// with BOOTSTRAP_ADMIN_* the admin re-enables them (and sets their tier), and teardown disables them
// again, which also ends every session they had. Each user gets an API key for this run; teardown uses
// it to delete every document the run left, then deletes the key.
import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { E } from '../lib/endpoints.ts';
import { header, parseItems } from '../lib/headers.ts';
import { loginBudget, type Suite, type SuiteName } from '../lib/suites.ts';
import { BASE_URL, isProblem, json, jsonHeaders, metrics, type Response, send } from './api.ts';

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

const DOMAIN = __ENV.LOADTEST_EMAIL_DOMAIN || 'k6.example.com';
const PASSWORD = __ENV.LOADTEST_PASSWORD || 'k6 load-test password, not a secret';
const ADMIN_EMAIL = __ENV.BOOTSTRAP_ADMIN_EMAIL;
const ADMIN_PASSWORD = __ENV.BOOTSTRAP_ADMIN_PASSWORD;
export const HAS_ADMIN = Boolean(ADMIN_EMAIL && ADMIN_PASSWORD);

export const poolEmail = (index: number) => `k6-${String(index).padStart(4, '0')}@${DOMAIN}`;

const abort = (reason: string): never => {
  exec.test.abort(reason);
  throw new Error(reason); // not reached: abort() stops the test
};

const cookieOf = (res: Response) => res.cookies['__Host-stowage_refresh']?.[0]?.value ?? '';

/** Refuses to start when the target's `login` policy cannot absorb this run's logins from one address. */
function assertLoginBudget(res: Response, suite: Suite): void {
  const policy = parseItems(header(res.headers, 'RateLimit-Policy'))?.find((item) => item.name === 'login');
  const needed = loginBudget(suite, HAS_ADMIN);
  if (policy?.params.q !== undefined && policy.params.q < needed) {
    abort(
      `the target allows ${policy.params.q} logins per ${policy.params.w} s from one address; this ${suite.name} run needs about ${needed}. ` +
        `Start the target with RATE_LIMIT_LOGIN=${needed * 2}/1m (see k6/README.md, "Load-test limits").`,
    );
  }
}

export function login(email: string, password: string, expect = [200, 429]) {
  return send('POST', '/v1/auth/login', E.login, {
    body: JSON.stringify({ email, password }),
    headers: jsonHeaders,
    expect,
  });
}

function adminLogin(): string {
  const res = login(ADMIN_EMAIL!, ADMIN_PASSWORD!);
  const token = json<{ access_token: string }>(res)?.access_token;
  if (res.status === 429) {
    abort(
      `the admin login hit the target's login limit (${header(res.headers, 'RateLimit-Policy')}); see k6/README.md`,
    );
  }
  if (res.status !== 200 || !token) abort(`the bootstrap admin could not log in (${res.status})`);
  return token!;
}

type AdminUser = { id: string; email: string; disabled?: boolean; tier?: string };

function existingPoolUsers(adminToken: string): Map<string, AdminUser> {
  const found = new Map<string, AdminUser>();
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const query = `?limit=100&q=${encodeURIComponent(`@${DOMAIN}`)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = send('GET', `/v1/admin/users${query}`, E.adminUsers, { auth: adminToken });
    const body = json<{ data: AdminUser[]; next_cursor: string | null }>(res);
    for (const user of body?.data ?? []) found.set(user.email, user);
    if (!body?.next_cursor) break;
    cursor = body.next_cursor;
  }
  return found;
}

function register(emails: string[]): void {
  for (let i = 0; i < emails.length; i += 10) {
    const batch = emails.slice(i, i + 10).map((email) => ({
      method: 'POST',
      url: `${BASE_URL}/v1/auth/register`,
      body: JSON.stringify({ email, password: PASSWORD, name: 'k6 load test' }),
      params: {
        headers: jsonHeaders,
        tags: { endpoint: E.register },
        responseCallback: http.expectedStatuses(201, 409, 429),
      },
    }));
    for (const res of http.batch(batch)) {
      if (res.status === 429) {
        abort(
          `registering pool users hit the per-IP register limit (${header(res.headers, 'RateLimit-Policy')}). ` +
            'Either start the target with RATE_LIMIT_REGISTER=1000/1h for the first run, or run with fewer users; ' +
            'later runs reuse the accounts (see k6/README.md).',
        );
      }
      if (res.status !== 201 && res.status !== 409) abort(`registering a pool user answered ${res.status}`);
    }
  }
}

export function setupRun(suite: Suite): SetupData {
  const runId = Date.now().toString(36);
  const ready = send('GET', '/readyz', E.readyz, { expect: [200, 503] });
  if (ready.status !== 200) abort(`${ready.url} answered ${ready.status}: the target is not ready`);

  const emails = Array.from({ length: suite.users }, (_, i) => poolEmail(i));
  let adminToken: string | undefined;
  let tier: string | undefined;
  if (HAS_ADMIN) {
    adminToken = adminLogin();
    const existing = existingPoolUsers(adminToken);
    register(emails.filter((email) => !existing.has(email)));
    const known = existingPoolUsers(adminToken);
    // The enterprise tier's API-key rate keeps the rate limit out of stress and of teardown's clean-up;
    // limits needs the free tier's small burst.
    tier = suite.name === 'limits' ? 'free' : 'enterprise';
    for (const email of emails) {
      const user = known.get(email);
      if (!user) abort(`pool user ${email} is missing after registration`);
      if (user!.disabled !== false || user!.tier !== tier) {
        send('PATCH', `/v1/admin/users/${user!.id}`, E.adminUpdateUser, {
          auth: adminToken,
          body: JSON.stringify({ disabled: false, tier }),
          headers: jsonHeaders,
        });
      }
    }
  } else {
    register(emails);
  }

  const users: PoolUser[] = [];
  for (let i = 0; i < emails.length; i += 10) {
    const batch = emails.slice(i, i + 10).map((email) => ({
      method: 'POST',
      url: `${BASE_URL}/v1/auth/login`,
      body: JSON.stringify({ email, password: PASSWORD }),
      params: {
        headers: jsonHeaders,
        tags: { endpoint: E.login },
        responseCallback: http.expectedStatuses(200),
      },
    }));
    const answers = http.batch(batch) as Response[];
    answers.forEach((res, j) => {
      const index = i + j;
      if (index === 0) assertLoginBudget(res, suite);
      if (res.status === 429)
        abort(`pool logins hit the login limit (${header(res.headers, 'RateLimit-Policy')})`);
      if (isProblem(res, 403, 'account_disabled')) {
        abort(
          `${emails[index]} is disabled (a previous run's teardown): give BOOTSTRAP_ADMIN_EMAIL/PASSWORD`,
        );
      }
      const body = json<{ access_token: string; user: { id: string } }>(res);
      if (res.status !== 200 || !body) abort(`pool user ${emails[index]} could not log in (${res.status})`);
      const expiresAt = new Date(Date.now() + (suite.maxMinutes + 60) * 60_000).toISOString();
      const key = send('POST', '/v1/api-keys', E.createKey, {
        auth: body!.access_token,
        body: JSON.stringify({ name: `k6 ${suite.name} ${runId}`, expires_at: expiresAt }),
        headers: jsonHeaders,
        expect: [201],
      });
      const created = json<{ id: string; key: string }>(key);
      if (!created?.key) abort(`creating an API key for ${emails[index]} answered ${key.status}`);
      users.push({
        index,
        id: body!.user.id,
        email: emails[index]!,
        key: created!.key,
        keyId: created!.id,
        cookie: cookieOf(res),
      });
    });
  }
  return {
    runId,
    suite: suite.name,
    password: PASSWORD,
    users,
    admin: HAS_ADMIN,
    adminToken,
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
    headers: { Cookie: `__Host-stowage_refresh=${user.cookie}` },
  });
  const token = json<{ access_token: string }>(refresh)?.access_token;
  if (!token) return;
  send('DELETE', `/v1/api-keys/${user.keyId}`, E.deleteKey, { auth: token, expect: [204] });
  send('POST', '/v1/auth/logout', E.logout, {
    headers: { Cookie: `__Host-stowage_refresh=${cookieOf(refresh)}` },
    expect: [204],
  });
}

/** Deletes every document the pool users hold and their run keys; disables them (admin) or logs out. */
export function teardownRun(data: SetupData | undefined): void {
  if (!data) return;
  for (const user of data.users) deleteDocuments(user);
  for (const user of data.users) {
    // An API key cannot delete keys; with an admin, disabling the account stops the key at once.
    if (!data.admin && user.cookie) endSession(user);
  }
  if (data.admin) {
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
}
