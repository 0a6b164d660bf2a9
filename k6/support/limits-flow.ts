// Limits: one client spends its `account` policy (a session) and another its `api_key` policy (a free
// tier key) until refused. Every answer on the way carries consistent RateLimit headers, the refusal is
// a 429 problem with Retry-After no earlier than the window's reset, nothing is ever a 5xx, and after
// waiting Retry-After the client is served again.
import { check, sleep } from 'k6';
import { E } from '../lib/endpoints.ts';
import { header, parseItems, rateLimitProblems, tightestWindow } from '../lib/headers.ts';
import { isProblem, type Response, send } from './api.ts';
import { sessionToken } from './session.ts';
import type { SetupData } from './setup.ts';

function spend(auth: string, policy: string): void {
  const call = () => send('GET', '/v1/documents?limit=1', E.list, { auth, expect: [200, 429] });
  let res: Response = call();
  // Start the burst in a window that will not reset halfway through it.
  const tightest = tightestWindow(res.headers);
  if (tightest && tightest.t < 5) {
    sleep(tightest.t + 1);
    res = call();
  }
  const cap = (tightestWindow(res.headers)?.r ?? 200) + 5;
  let refused: Response | undefined;
  for (let i = 0; i < cap; i++) {
    if (i > 0) res = call();
    check(res, {
      'limits: never a 5xx': (r) => r.status > 0 && r.status < 500,
      'limits: consistent RateLimit headers': (r) =>
        rateLimitProblems(r.headers, r.status === 429).length === 0,
    });
    if (res.status === 429) {
      refused = res;
      break;
    }
  }
  check(refused, {
    [`limits: ${policy} refuses with 429 rate_limited`]: (r) =>
      r !== undefined && isProblem(r, 429, 'rate_limited'),
    [`limits: ${policy} is named in RateLimit-Policy`]: (r) =>
      r !== undefined &&
      (parseItems(header(r.headers, 'RateLimit-Policy')) ?? []).some((item) => item.name === policy),
  });
  if (!refused) return;
  sleep(Number(header(refused.headers, 'Retry-After') ?? 1));
  const again = send('GET', '/v1/documents?limit=1', E.list, { auth, expect: [200] });
  check(again, { [`limits: ${policy} serves again after Retry-After`]: (r) => r.status === 200 });
}

export function limitsIteration(data: SetupData): void {
  const { token } = sessionToken(data);
  check(token, { 'limits: session login': (t) => Boolean(t) });
  if (token) spend(token, 'account');
  const keyUser = data.users[1] ?? data.users[0]!;
  spend(keyUser.key, 'api_key');
}
