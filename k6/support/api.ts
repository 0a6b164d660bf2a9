// One way to send a request: tagged with its endpoint, with the statuses this step expects (so that
// expected 4xx/429/503 do not count in `http_req_failed`), counting unexpected statuses and transport
// failures (status 0: timeouts, resets, refused connections) in their own metrics.
import { check } from 'k6';
import http, { type RefinedResponse, type RequestBody } from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Endpoint } from '../lib/endpoints.ts';
import { header } from '../lib/headers.ts';
import { METRIC } from '../lib/thresholds.ts';

export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3000').replace(/\/+$/, '');

export const metrics = {
  unexpected: new Counter(METRIC.unexpected),
  transport: new Counter(METRIC.transport),
  overloaded: new Counter(METRIC.overloaded),
  rateLimited: new Counter(METRIC.rateLimited),
};

export type Response = RefinedResponse<'text'>;

export type Call = {
  body?: RequestBody | null;
  /** Bearer credential: an access token or an `sk_` API key. */
  auth?: string;
  headers?: Record<string, string>;
  /** Statuses this step accepts; anything else counts as unexpected (and as failed for k6). */
  expect?: number[];
  /** Extra tags (e.g. the soak window). */
  tags?: Record<string, string>;
  timeout?: string;
};

export function send(method: string, path: string, endpoint: Endpoint, call: Call = {}): Response {
  const expect = call.expect ?? [200];
  const headers: Record<string, string> = { ...call.headers };
  if (call.auth) headers.Authorization = `Bearer ${call.auth}`;
  const tags = { endpoint, ...call.tags };
  const res = http.request(method, `${BASE_URL}${path}`, call.body ?? null, {
    headers,
    tags,
    timeout: call.timeout ?? '30s',
    responseCallback: http.expectedStatuses(...expect),
  });
  if (res.status === 0) metrics.transport.add(1, { ...tags, error_code: String(res.error_code) });
  else if (!expect.includes(res.status)) {
    metrics.unexpected.add(1, { ...tags, status: String(res.status) });
    console.warn(`${endpoint}: unexpected ${res.status} ${String(res.body).slice(0, 300)}`);
  }
  if (res.status === 429) metrics.rateLimited.add(1, tags);
  if (res.status === 503) metrics.overloaded.add(1, tags);
  return res as Response;
}

export const jsonHeaders = { 'Content-Type': 'application/json' };

/** The body as JSON, or undefined (a check then fails on the missing field, never an exception). */
export function json<T>(res: Response): T | undefined {
  try {
    return JSON.parse(String(res.body)) as T;
  } catch {
    return undefined;
  }
}

type Problem = { type?: string; status?: number; code?: string; request_id?: string };

/** An RFC 9457 answer as API.md describes it: status, code, type URI, request id echoed in the header. */
export function isProblem(res: Response, status: number, code: string): boolean {
  const body = json<Problem>(res);
  return (
    res.status === status &&
    (header(res.headers, 'Content-Type') ?? '').startsWith('application/problem+json') &&
    body?.status === status &&
    body.code === code &&
    (body.type ?? '').endsWith(`/problems/${code}`) &&
    body.request_id !== undefined &&
    body.request_id === header(res.headers, 'X-Request-ID')
  );
}

export function problemCode(res: Response): string | undefined {
  return json<Problem>(res)?.code;
}

/** check() with one named condition; returns the outcome. */
export const expectThat = (res: Response, name: string, ok: (res: Response) => boolean): boolean =>
  check(res, { [name]: ok });
