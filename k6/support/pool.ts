// The pool of load-test accounts (`k6-0000@<domain>` and up). They are registered once and reused by
// every later run, so a deployment's per-IP `register` limit is spent on the first run only. With
// BOOTSTRAP_ADMIN_* the admin finds them, re-enables them and sets their tier.
import exec from 'k6/execution';
import http from 'k6/http';
import { E } from '../lib/endpoints.ts';
import { header, parseItems } from '../lib/headers.ts';
import { isThisMachine, loginBudget, type Suite } from '../lib/suites.ts';
import { BASE_URL, isProblem, json, jsonHeaders, type Response, send } from './api.ts';

const DOMAIN = __ENV.LOADTEST_EMAIL_DOMAIN || 'k6.example.com';
const DEFAULT_PASSWORD = 'k6 load-test password, not a secret';
export const PASSWORD = __ENV.LOADTEST_PASSWORD || DEFAULT_PASSWORD;
const ADMIN_EMAIL = __ENV.BOOTSTRAP_ADMIN_EMAIL;
const ADMIN_PASSWORD = __ENV.BOOTSTRAP_ADMIN_PASSWORD;
export const HAS_ADMIN = Boolean(ADMIN_EMAIL && ADMIN_PASSWORD);

export const poolEmail = (index: number) => `k6-${String(index).padStart(4, '0')}@${DOMAIN}`;

export const abort = (reason: string): never => {
  exec.test.abort(reason);
  throw new Error(reason); // not reached: abort() stops the test
};

export const REFRESH_COOKIE = '__Host-stowage_refresh';
export const cookieOf = (res: Response) => res.cookies[REFRESH_COOKIE]?.[0]?.value ?? '';

/** The pool's accounts outlive the run: anywhere but this machine they need a password of their own. */
export function assertPasswordChosen(): void {
  if (!isThisMachine(BASE_URL) && PASSWORD === DEFAULT_PASSWORD) {
    abort(`BASE_URL ${BASE_URL} is not this machine: set LOADTEST_PASSWORD for the load-test accounts`);
  }
}

const limitHint = (res: Response, variable: string) =>
  `the target's limit (${header(res.headers, 'RateLimit-Policy')}) was reached: start it with ${variable} raised (k6/README.md, "Release check")`;

export function adminLogin(): string {
  const res = send('POST', '/v1/auth/login', E.login, {
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    headers: jsonHeaders,
    expect: [200, 429],
  });
  if (res.status === 429) abort(`admin login: ${limitHint(res, 'RATE_LIMIT_LOGIN')}`);
  const token = json<{ access_token: string }>(res)?.access_token;
  if (res.status !== 200 || !token) abort(`the bootstrap admin could not log in (${res.status})`);
  return token!;
}

type AdminUser = { id: string; email: string; disabled?: boolean; tier?: string };

function listPool(adminToken: string): Map<string, AdminUser> {
  const found = new Map<string, AdminUser>();
  let cursor = '';
  for (let page = 0; page < 100; page++) {
    const query = `limit=100&q=${encodeURIComponent(`@${DOMAIN}`)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = send('GET', `/v1/admin/users?${query}`, E.adminUsers, { auth: adminToken });
    const body = json<{ data: AdminUser[]; next_cursor: string | null }>(res);
    for (const user of body?.data ?? []) found.set(user.email, user);
    if (!body?.next_cursor) break;
    cursor = body.next_cursor;
  }
  return found;
}

function register(emails: string[]): void {
  for (let i = 0; i < emails.length; i += 10) {
    const answers = http.batch(
      emails.slice(i, i + 10).map((email) => ({
        method: 'POST',
        url: `${BASE_URL}/v1/auth/register`,
        body: JSON.stringify({ email, password: PASSWORD, name: 'k6 load test' }),
        params: {
          headers: jsonHeaders,
          tags: { endpoint: E.register },
          responseCallback: http.expectedStatuses(201, 409, 429),
        },
      })),
    ) as Response[];
    for (const res of answers) {
      if (res.status === 429) abort(`registering pool users: ${limitHint(res, 'RATE_LIMIT_REGISTER')}`);
      if (res.status !== 201 && res.status !== 409) abort(`registering a pool user answered ${res.status}`);
    }
  }
}

/** With the admin: registers the missing pool users, re-enables the others, sets everyone's tier. */
export function preparePool(adminToken: string, emails: string[], tier: string): void {
  const existing = listPool(adminToken);
  register(emails.filter((email) => !existing.has(email)));
  const known = listPool(adminToken);
  for (const email of emails) {
    const user = known.get(email) ?? abort(`pool user ${email} is missing after registration`);
    if (user.disabled !== false || user.tier !== tier) {
      send('PATCH', `/v1/admin/users/${user.id}`, E.adminUpdateUser, {
        auth: adminToken,
        body: JSON.stringify({ disabled: false, tier }),
        headers: jsonHeaders,
      });
    }
  }
}

/** Refuses to start when the target's `login` policy cannot absorb this run's logins from one address. */
function assertLoginBudget(res: Response, suite: Suite): void {
  const policy = parseItems(header(res.headers, 'RateLimit-Policy'))?.find((item) => item.name === 'login');
  const needed = loginBudget(suite, HAS_ADMIN);
  if (policy?.params.q !== undefined && policy.params.q < needed) {
    abort(
      `the target allows ${policy.params.q} logins per ${policy.params.w} s from one address; this ${suite.name} run needs about ${needed}. ` +
        `Start the target with RATE_LIMIT_LOGIN=${needed * 2}/1m (k6/README.md, "Release check").`,
    );
  }
}

export type Login = { email: string; res: Response };

/**
 * Logs every pool user in (10 at a time: each login is an argon2id hash). Without an admin, a user
 * that does not exist yet (401) is registered then and logged in again, so later runs register nobody.
 */
export function logInPool(emails: string[], suite: Suite): Login[] {
  const attempt = (batch: string[]) =>
    http.batch(
      batch.map((email) => ({
        method: 'POST',
        url: `${BASE_URL}/v1/auth/login`,
        body: JSON.stringify({ email, password: PASSWORD }),
        params: {
          headers: jsonHeaders,
          tags: { endpoint: E.login },
          responseCallback: http.expectedStatuses(200, 401, 403, 429),
        },
      })),
    ) as Response[];
  const logins: Login[] = [];
  for (let i = 0; i < emails.length; i += 10) {
    const batch = emails.slice(i, i + 10);
    let answers = attempt(batch);
    if (i === 0 && answers[0]) assertLoginBudget(answers[0], suite);
    const unknown = batch.filter((_, j) => answers[j]!.status === 401);
    if (unknown.length > 0 && !HAS_ADMIN) {
      register(unknown);
      const again = attempt(unknown);
      answers = answers.map((res, j) => (res.status === 401 ? again[unknown.indexOf(batch[j]!)]! : res));
    }
    answers.forEach((res, j) => {
      const email = batch[j]!;
      if (res.status === 429) abort(`pool logins: ${limitHint(res, 'RATE_LIMIT_LOGIN')}`);
      if (isProblem(res, 403, 'account_disabled')) {
        abort(`${email} was disabled by an earlier run's teardown: give BOOTSTRAP_ADMIN_EMAIL/PASSWORD`);
      }
      if (res.status !== 200)
        abort(`pool user ${email} could not log in (${res.status}; LOADTEST_PASSWORD?)`);
      logins.push({ email, res });
    });
  }
  return logins;
}
