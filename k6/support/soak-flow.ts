// Soak: the load session for an hour. Each VU keeps one document: after a new upload it deletes the
// previous one, so the data stays bounded (what the run measures is time, not growth) and the listing
// always has a document to get.
import { check, sleep } from 'k6';
import { E } from '../lib/endpoints.ts';
import { sessionIteration } from './session-flow.ts';
import type { SetupData } from './setup.ts';

let previous: string | undefined;

export function soakIteration(data: SetupData): void {
  sessionIteration(data, {
    soak: true,
    afterDownload: (id, token, call) => {
      if (previous) {
        const removed = call('DELETE', `/v1/documents/${previous}`, E.deleteDoc, {
          auth: token,
          expect: [204],
        });
        check(removed, { 'delete: 204': (r) => r.status === 204 });
        sleep(0.5 + Math.random());
      }
      previous = id;
    },
  });
}
