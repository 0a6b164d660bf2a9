import { describe, expect, it } from 'vitest';
import {
  header,
  parseItems,
  rateLimitProblems,
  tightestWindow,
  unavailableProblems,
} from '../../k6/lib/headers.ts';
import { rateLimitHeaders } from '../../src/platform/rate-limit/rate-limits.ts';

// k6 hands headers over in Go's canonical case.
const canonical = (headers: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name
        .split('-')
        .map((part) => part[0]!.toUpperCase() + part.slice(1).toLowerCase())
        .join('-'),
      value,
    ]),
  );

const account = { policy: 'account', limit: 100, windowS: 60 };
const keyWindows = (remaining: number, burstRemaining: number, resetS = 42) => [
  { policy: 'api_key', limit: 100, windowS: 60, remaining, resetS },
  { policy: 'api_key_burst', limit: 10, windowS: 6, remaining: burstRemaining, resetS: 5 },
];

describe('rate-limit headers as the k6 checks read them', () => {
  it('accepts what the API sends, allowed and refused', () => {
    const allowed = canonical(rateLimitHeaders([{ ...account, remaining: 3, resetS: 42 }], false));
    expect(header(allowed, 'RateLimit-Policy')).toBe('"account";q=100;w=60');
    expect(rateLimitProblems(allowed, false)).toEqual([]);
    const refused = canonical(rateLimitHeaders(keyWindows(90, 0), true));
    expect(rateLimitProblems(refused, true)).toEqual([]);
    expect(tightestWindow(refused)).toEqual({ name: 'api_key_burst', r: 0, t: 5 });
    expect(parseItems(header(refused, 'RateLimit'))).toEqual([
      { name: 'api_key', params: { r: 90, t: 42 } },
      { name: 'api_key_burst', params: { r: 0, t: 5 } },
    ]);
  });

  it('flags a 429 without Retry-After, a Retry-After before the reset, an epoch `t`, missing headers', () => {
    const refused = canonical(rateLimitHeaders([{ ...account, remaining: 0, resetS: 42 }], true));
    expect(rateLimitProblems({ ...refused, 'Retry-After': '' }, true)).toEqual([
      '429 without Retry-After in seconds',
    ]);
    expect(rateLimitProblems({ ...refused, 'Retry-After': '5' }, true)).toEqual([
      'Retry-After 5 earlier than t=42',
    ]);
    expect(rateLimitProblems({ ...refused, Ratelimit: '"account";r=0;t=1767225600' }, true)).toContain(
      '"account": t=1767225600 beyond w=60',
    );
    expect(rateLimitProblems({}, false)).toEqual(
      expect.arrayContaining([
        'RateLimit-Policy missing or malformed',
        'X-RateLimit-Reset missing or not an integer',
      ]),
    );
    expect(parseItems('account;q=1')).toBeUndefined();
  });

  it('accepts a 503 only as the named problem with Retry-After', () => {
    const headers = { 'Content-Type': 'application/problem+json', 'Retry-After': '1' };
    expect(unavailableProblems(headers, 'overloaded', ['overloaded'])).toEqual([]);
    expect(unavailableProblems({ 'Content-Type': 'text/html' }, 'overloaded', ['overloaded'])).toEqual([
      '503 without Retry-After in seconds',
      '503 not problem+json',
    ]);
    expect(unavailableProblems(headers, 'internal_error', ['overloaded'])).toHaveLength(1);
  });
});
