// What every answer must satisfy, whatever was sent: no 5xx, a documented status, problem+json for
// every error with the request id, and nothing internal (stacks, SQL, paths, library names) in a body.
import type { FuzzRequest } from './requests.ts';
import type { FuzzResponse } from './send.ts';

const LEAKS: Array<[string, RegExp]> = [
  ['stack frame', /\n\s+at \S|\bat [\w.<>]+ \(/],
  ['file path', /(\/work\/|\/src\/|node_modules|\/dist\/|\.ts:\d+|\.js:\d+)/],
  [
    'SQL',
    /\b(select\s.+\sfrom|insert into|update \w+ set|syntax error at|violates (check|unique|foreign key) constraint|relation "\w+")/i,
  ],
  [
    'library name',
    /\b(postgres\.?js|PostgresError|drizzle|ZodError|busboy|hono|@aws-sdk|smithy|undici|TypeError|RangeError)\b/i,
  ],
];

/**
 * Statuses any operation may answer although its own list does not name them: limits and availability,
 * and Node's own 431 for a request line or headers beyond its limit (a long enough query string).
 */
const ALWAYS = [429, 431, 503];

function allowedStatuses(request: FuzzRequest): number[] | undefined {
  if (request.endpoint === 'raw') return undefined;
  if (request.endpoint === 'unmatched') return [404, 405, 401, ...ALWAYS];
  const allowed = [...(request.documented ?? []), ...ALWAYS];
  if (request.mutation === 'hostile path') allowed.push(404);
  if (request.mutation.startsWith('odd method')) allowed.push(404, 405, 204);
  return allowed;
}

/** The reasons this answer breaks the contract; empty when it holds. */
export function violations(request: FuzzRequest, response: FuzzResponse): string[] {
  const found: string[] = [];
  if (response.error?.startsWith('client refused')) return found; // never sent
  if (request.raw !== undefined) {
    // A raw request may be answered or simply closed, but never hang or get a 5xx.
    if (response.noAnswer === 'timeout') found.push('no answer and no close within 15 s');
    if (response.status >= 500 && !(response.status === 503 && response.headers['retry-after'])) {
      found.push(`status ${response.status}`);
    }
    if (response.status && response.status < 400 && !/HTTP\/1\.0|absolute URI/.test(request.mutation)) {
      found.push(`status ${response.status} for malformed framing`);
    }
    if (response.status >= 400) checkProblem(response, found, false);
    return found;
  }
  if (response.noAnswer) found.push(`no answer (${response.noAnswer})`);
  if (response.error) found.push(`transport error: ${response.error}`);
  if (!response.status) return found;
  if (response.status >= 500 && !(response.status === 503 && response.headers['retry-after'])) {
    found.push(`status ${response.status}`);
  }
  const allowed = allowedStatuses(request);
  if (allowed && !allowed.includes(response.status)) found.push(`undocumented status ${response.status}`);
  const isHead = request.method === 'HEAD';
  if (response.status >= 400 && !isHead) checkProblem(response, found, true);
  return found;
}

function checkProblem(response: FuzzResponse, found: string[], strict: boolean) {
  const type = String(response.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) {
    found.push(`error without problem+json (content-type ${type || 'none'})`);
    return;
  }
  let body: { status?: unknown; code?: unknown; request_id?: unknown };
  try {
    body = JSON.parse(response.body);
  } catch {
    found.push('problem body is not JSON');
    return;
  }
  if (body.status !== response.status)
    found.push(`problem status ${String(body.status)} ≠ ${response.status}`);
  if (typeof body.code !== 'string') found.push('problem without code');
  if (strict && body.request_id !== response.headers['x-request-id']) found.push('request_id ≠ X-Request-ID');
  for (const [what, pattern] of LEAKS) if (pattern.test(response.body)) found.push(`body reveals a ${what}`);
}
