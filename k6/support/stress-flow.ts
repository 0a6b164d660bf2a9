// Stress: an arrival rate that climbs past what the target can serve. Each iteration is one read with
// the VU's pool API key (enterprise tier, so the rate limit is not what stops it). Past capacity the
// only acceptable refusal is a 503 `overloaded` with Retry-After (or a well-formed 429); a timeout
// (10 s here), a reset or any other 5xx counts against the thresholds.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { E } from '../lib/endpoints.ts';
import { rateLimitProblems, unavailableProblems } from '../lib/headers.ts';
import { json, problemCode, type Response, send } from './api.ts';
import { userFor } from './session.ts';
import type { SetupData } from './setup.ts';

const EXPECT = [200, 201, 429, 503];
let documentId: string | undefined;

function judge(res: Response): void {
  if (res.status === 503) {
    check(res, {
      '503 is `overloaded` with Retry-After': (r) =>
        unavailableProblems(r.headers, problemCode(r), ['overloaded']).length === 0,
    });
  } else if (res.status === 429) {
    check(res, {
      '429 carries RateLimit headers and Retry-After': (r) => rateLimitProblems(r.headers, true).length === 0,
    });
  } else {
    check(res, { 'stress: 2xx': (r) => r.status >= 200 && r.status < 300 });
  }
}

export function stressIteration(data: SetupData): void {
  const key = userFor(data).key;
  const call = { auth: key, expect: EXPECT, timeout: '10s' };
  if (!documentId) {
    const upload = send('POST', '/v1/documents', E.upload, {
      ...call,
      body: { file: http.file('stress', `k6-${data.runId}-stress-${exec.vu.idInTest}.txt`, 'text/plain') },
    });
    judge(upload);
    documentId = json<{ document: { id: string } }>(upload)?.document?.id;
    return;
  }
  const res =
    exec.vu.iterationInScenario % 2 === 0
      ? send('GET', '/v1/documents?limit=20', E.list, call)
      : send('GET', `/v1/documents/${documentId}`, E.get, call);
  judge(res);
}
