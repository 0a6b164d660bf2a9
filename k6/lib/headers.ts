// What a client may rely on in the rate-limit and overload headers (API.md "Rate limits"), as pure
// functions of a header map so that vitest checks them and the k6 checks reuse them.

export type Headers = Record<string, string | undefined>;

/** k6 hands headers over in Go's canonical form (`Ratelimit-Policy`); look them up by any case. */
export function header(headers: Headers, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

export type Item = { name: string; params: Record<string, number> };

/** `"login";q=10;w=60, "api_key_burst";r=3;t=4` (RFC 9651 list of strings with integer parameters). */
export function parseItems(value: string | undefined): Item[] | undefined {
  if (value === undefined) return undefined;
  const items: Item[] = [];
  for (const member of value.split(',')) {
    const [first, ...rest] = member.trim().split(';');
    const name = /^"([^"]+)"$/.exec(first?.trim() ?? '')?.[1];
    if (!name) return undefined;
    const params: Record<string, number> = {};
    for (const param of rest) {
      const match = /^([a-z]+)=(\d+)$/.exec(param.trim());
      if (!match) return undefined;
      params[match[1]!] = Number(match[2]);
    }
    items.push({ name, params });
  }
  return items;
}

const isSeconds = (value: string | undefined) => value !== undefined && /^\d+$/.test(value);

/**
 * Problems with the rate-limit headers of one response (empty: all good). `refused` is a 429: it must
 * carry Retry-After, never earlier than the reset of an exhausted window.
 */
export function rateLimitProblems(headers: Headers, refused: boolean): string[] {
  const problems: string[] = [];
  const policies = parseItems(header(headers, 'RateLimit-Policy'));
  const windows = parseItems(header(headers, 'RateLimit'));
  if (!policies) problems.push('RateLimit-Policy missing or malformed');
  if (!windows) problems.push('RateLimit missing or malformed');
  for (const name of ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']) {
    if (!isSeconds(header(headers, name))) problems.push(`${name} missing or not an integer`);
  }
  if (!policies || !windows) return problems;
  for (const window of windows) {
    const policy = policies.find((p) => p.name === window.name);
    const { r, t } = window.params;
    if (!policy || policy.params.q === undefined || policy.params.w === undefined) {
      problems.push(`RateLimit names "${window.name}" without its RateLimit-Policy (q, w)`);
      continue;
    }
    if (r === undefined || t === undefined) problems.push(`RateLimit "${window.name}" lacks r or t`);
    else {
      if (r > policy.params.q) problems.push(`"${window.name}": r=${r} above q=${policy.params.q}`);
      // `t` is seconds until reset, never an epoch: it cannot exceed the window.
      if (t > policy.params.w) problems.push(`"${window.name}": t=${t} beyond w=${policy.params.w}`);
    }
  }
  const retryAfter = header(headers, 'Retry-After');
  if (refused) {
    if (!isSeconds(retryAfter) || Number(retryAfter) < 1) problems.push('429 without Retry-After in seconds');
    else if (!windows.some((w) => w.params.r === 0)) problems.push('429 but no window has r=0');
    else {
      const latest = Math.max(...windows.filter((w) => w.params.r === 0).map((w) => w.params.t ?? 0));
      if (Number(retryAfter) < latest) problems.push(`Retry-After ${retryAfter} earlier than t=${latest}`);
    }
  }
  return problems;
}

/** The window with the fewest requests left (`r`, and `t` seconds to its reset): what a burst must spend. */
export function tightestWindow(headers: Headers): { name: string; r: number; t: number } | undefined {
  const windows = parseItems(header(headers, 'RateLimit')) ?? [];
  let tightest: { name: string; r: number; t: number } | undefined;
  for (const window of windows) {
    const { r, t } = window.params;
    if (r === undefined || t === undefined) continue;
    if (!tightest || r < tightest.r) tightest = { name: window.name, r, t };
  }
  return tightest;
}

/** Problems with a 503 answer: it must say why (`overloaded`, …) and when to come back. */
export function unavailableProblems(
  headers: Headers,
  code: string | undefined,
  allowed: readonly string[],
): string[] {
  const problems: string[] = [];
  if (!isSeconds(header(headers, 'Retry-After'))) problems.push('503 without Retry-After in seconds');
  if (!header(headers, 'Content-Type')?.startsWith('application/problem+json'))
    problems.push('503 not problem+json');
  if (!code || !allowed.includes(code)) problems.push(`503 code "${code}" not one of ${allowed.join(', ')}`);
  return problems;
}
