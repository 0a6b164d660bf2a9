// Shim of `k6/http` over fetch(): synchronous like k6's (a worker runs the request while this thread
// waits), with k6's response shape (Go-canonical header names, cookies by name, timings) and its
// built-in metrics (http_reqs, http_req_duration, http_req_failed) tagged as k6 tags them.
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { WireRequest, WireResponse } from './http-worker.ts';
import { record } from './state.ts';

const worker = new Worker(new URL('./http-worker.ts', import.meta.url));
worker.unref();

type Expected = { statuses: (number | { min: number; max: number })[] };
type FileData = { __file: true; data: string; filename: string; content_type: string };
type Params = {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  timeout?: string;
  responseCallback?: Expected;
};

const canonical = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join('-');

const seconds = (text = '60s') => {
  const match = /^(\d+)(ms|s|m)$/.exec(text);
  return match
    ? Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[match[2] as 'ms' | 's' | 'm']
    : 60_000;
};

function wire(body: unknown): WireRequest['body'] {
  if (body === null || body === undefined) return undefined;
  if (typeof body === 'string') return body;
  const fields = Object.entries(body as Record<string, string | FileData>).map(([name, value]) =>
    typeof value === 'object' && value.__file
      ? { name, value: value.data, filename: value.filename, contentType: value.content_type }
      : { name, value: String(value) },
  );
  return { fields };
}

const expected = (status: number, callback?: Expected) =>
  (callback?.statuses ?? [{ min: 200, max: 399 }]).some((s) =>
    typeof s === 'number' ? s === status : status >= s.min && status <= s.max,
  );

export function request(method: string, url: string, body?: unknown, params: Params = {}) {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const wireRequest: WireRequest = {
    method,
    url,
    headers: params.headers ?? {},
    body: wire(body),
    timeoutMs: seconds(params.timeout),
  };
  worker.postMessage({ request: wireRequest, port: port2, flag }, [port2]);
  Atomics.wait(flag, 0, 0);
  const answer = receiveMessageOnPort(port1)!.message as WireResponse;
  port1.close();
  const ok = answer.status !== 0 && expected(answer.status, params.responseCallback);
  const tags = { ...params.tags, method, status: String(answer.status), expected_response: String(ok) };
  record('http_reqs', 'counter', 1, tags);
  record('http_req_duration', 'trend', answer.durationMs, tags);
  record('http_req_failed', 'rate', ok ? 0 : 1, tags);
  const cookies: Record<string, { name: string; value: string }[]> = {};
  for (const line of answer.setCookies) {
    const [pair] = line.split(';');
    const at = pair!.indexOf('=');
    const name = pair!.slice(0, at);
    cookies[name] = [...(cookies[name] ?? []), { name, value: pair!.slice(at + 1) }];
  }
  return {
    status: answer.status,
    body: answer.body,
    url,
    headers: Object.fromEntries(answer.headers.map(([name, value]) => [canonical(name), value])),
    cookies,
    timings: { duration: answer.durationMs },
    error: answer.error ?? '',
    error_code: answer.status === 0 ? 1000 : 0,
    request: { method, url },
    json: () => JSON.parse(answer.body),
  };
}

type BatchItem =
  | { method: string; url: string; body?: unknown; params?: Params }
  | [string, string, unknown?, Params?];

export function batch(items: BatchItem[]) {
  return items.map((item) =>
    Array.isArray(item)
      ? request(item[0], item[1], item[2], item[3])
      : request(item.method, item.url, item.body, item.params),
  );
}

export const file = (data: string, filename: string, contentType = 'application/octet-stream'): FileData => ({
  __file: true,
  data,
  filename,
  content_type: contentType,
});

export const expectedStatuses = (...statuses: Expected['statuses']): Expected => ({ statuses });

export default { request, batch, file, expectedStatuses };
