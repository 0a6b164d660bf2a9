// The session of the original hardening plan, shared by load, spike, spike_recovery and soak: log in
// once, then list → get → upload a small document → download it, 0.5–1.5 s of think time after each.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Trend } from 'k6/metrics';
import { DriftTracker, soakWindow } from '../lib/drift.ts';
import { E, type Endpoint } from '../lib/endpoints.ts';
import { header, rateLimitProblems, unavailableProblems } from '../lib/headers.ts';
import { durationMs } from '../lib/suites.ts';
import { METRIC } from '../lib/thresholds.ts';
import { json, problemCode, type Response, send } from './api.ts';
import { sessionToken } from './session.ts';
import type { SetupData } from './setup.ts';

const SMALL_DOC = `${'Stowage k6 load-test document. '.repeat(33)}\n`.slice(0, 1024);
const think = () => sleep(0.5 + Math.random());

export type Caller = (
  method: string,
  path: string,
  endpoint: Endpoint,
  extra?: Parameters<typeof send>[3],
) => Response;

export type Mode = {
  /** Spike: 429 and 503 are acceptable answers, if they carry their headers. */
  shedding?: boolean;
  /** Soak: tag requests with the run window and compare late with early latency. */
  soak?: boolean;
  /** A last step on the document just uploaded (soak deletes it again). */
  afterDownload?: (id: string, token: string, call: Caller) => void;
};

const drift = new DriftTracker();
const driftRatio = new Trend(METRIC.drift);
const SOAK_MS = durationMs(__ENV.SOAK_DURATION || '1h');

/** 2xx, or (when shedding is allowed) a 429/503 that tells the client what to do. */
function answered(res: Response, name: string, mode: Mode, ok: (res: Response) => boolean): boolean {
  if (mode.shedding && res.status === 429) {
    check(res, {
      '429 carries RateLimit headers and Retry-After': (r) => rateLimitProblems(r.headers, true).length === 0,
    });
    return false;
  }
  if (mode.shedding && res.status === 503) {
    check(res, {
      '503 is `overloaded` with Retry-After': (r) =>
        unavailableProblems(r.headers, problemCode(r), ['overloaded']).length === 0,
    });
    return false;
  }
  return check(res, { [name]: ok });
}

export function sessionIteration(data: SetupData, mode: Mode = {}): void {
  const expect = (...ok: number[]) => (mode.shedding ? [...ok, 429, 503] : ok);
  const window = mode.soak ? soakWindow(exec.instance.currentTestRunDuration, SOAK_MS) : undefined;
  const tags = window ? { window } : undefined;
  const call: Caller = (method, path, endpoint, extra = {}) => {
    const res = send(method, path, endpoint, { ...extra, tags });
    if (window) {
      const ratio = drift.observe(window, endpoint, res.timings.duration);
      if (ratio !== undefined) driftRatio.add(ratio, { endpoint });
    }
    return res;
  };

  const { token, res: loginRes } = sessionToken(data, expect(200));
  if (!token) {
    if (loginRes) answered(loginRes, 'login: 200 with a bearer token', mode, () => false);
    sleep(1);
    return;
  }

  const list = call('GET', '/v1/documents?limit=20', E.list, { auth: token, expect: expect(200) });
  const listed = json<{ data: { id: string }[] }>(list);
  answered(list, 'list: 200 with data[]', mode, () => Array.isArray(listed?.data));
  think();

  const someId = listed?.data?.[0]?.id;
  if (someId) {
    const got = call('GET', `/v1/documents/${someId}`, E.get, { auth: token, expect: expect(200) });
    answered(
      got,
      'get: 200, the listed document, with an ETag',
      mode,
      (r) => json<{ id: string }>(r)?.id === someId && Boolean(header(r.headers, 'ETag')),
    );
    think();
  }

  const upload = call('POST', '/v1/documents', E.upload, {
    auth: token,
    body: {
      file: http.file(
        SMALL_DOC,
        `k6-${data.runId}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}.txt`,
        'text/plain',
      ),
    },
    expect: expect(201),
  });
  const created = json<{ document: { id: string; size_bytes: number } }>(upload)?.document;
  const uploaded = answered(
    upload,
    'upload: 201 with Location and the document',
    mode,
    (r) => created?.size_bytes === SMALL_DOC.length && Boolean(header(r.headers, 'Location')),
  );
  think();
  if (!uploaded || !created) return;

  const download = call('GET', `/v1/documents/${created.id}/content`, E.download, {
    auth: token,
    expect: expect(200),
  });
  answered(
    download,
    'download: 200, the same bytes, as an attachment',
    mode,
    (r) => r.body === SMALL_DOC && (header(r.headers, 'Content-Disposition') ?? '').startsWith('attachment'),
  );
  think();

  mode.afterDownload?.(created.id, token, call);
}
